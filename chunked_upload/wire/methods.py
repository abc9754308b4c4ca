"""The method table: every web-service method, its parameters and answer.

The views, the SOAP endpoint and the WSDL are all driven by this one table,
so they cannot drift apart. Parameter order is the legacy WSDL's.
UploadFileChunk is an entry like the others: its ``fileChunk`` is a streamed
parameter (see :mod:`.chunks`), the rest are read and checked as everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..engine.checksums import parse_crc
from ..engine.paths import parse_document_path
from ..exceptions import InvalidDownloadHandler, InvalidUploadHandler
from . import operations as ops
from .chunks import receive_chunk, upload_file_chunk
from .params import (
    Param,
    boolean,
    guid,
    int32,
    integer_parser,
    parse_guid,
    parse_int64,
    parse_xml_parameters,
    string,
)


@dataclass(frozen=True)
class Method:
    """One web-service method."""

    name: str
    root: str
    params: tuple[Param, ...]
    operation: Callable[[ops.Call], Any]
    #: The parameter carrying the ticket; None for the log-in methods.
    ticket: Param | None = None
    #: isValidTicket and LogOut fall back to a ``ticket`` cookie.
    ticket_cookie: bool = False
    #: Whether a successful call slides the ticket's expiry.
    renews_ticket: bool = True
    extension: bool = False

    @property
    def all_params(self) -> tuple[Param, ...]:
        """Every parameter in WSDL order (the ticket first)."""
        return (self.ticket, *self.params) if self.ticket else self.params

    @cached_property
    def _by_name(self) -> dict[str, Param]:
        names = {}
        for param in self.all_params:
            names[param.element.casefold()] = names[param.name.casefold()] = param
        return names

    def param_named(self, name: str) -> Param | None:
        """The parameter a field or element of that name carries, in any case; None if none."""
        return self._by_name.get(name.casefold())


def _ticket(name: str = "authenticationTicket", *, required: bool = True) -> Param:
    return Param(name, required=required, wsdl_name="AuthenticationTicket")


def _upload_handler(name: str = "uploadHandler") -> Param:
    return guid(name, InvalidUploadHandler, wsdl_name="UploadHandler")


def _download_handler() -> Param:
    return guid("DownloadHandler", InvalidDownloadHandler)


def _path(name: str, *, allow_id: bool = False) -> Param:
    return Param(name, parse=lambda text: parse_document_path(text, name, allow_id=allow_id),
                 wsdl_name=name[:1].upper() + name[1:])


def _xml_parameters(required: bool = False) -> Param:
    # The legacy WSDL spells this element in camelCase, unlike its others.
    return Param("xmlParameters", required=required, parse=parse_xml_parameters,
                 wsdl_name="xmlParameters")


def _short(name: str, low: int, high: int, wsdl_name: str) -> Param:
    return Param(name, "short", True, integer_parser(low, high), wsdl_name=wsdl_name)


def _optional_guid(name: str) -> Param:
    def parse(text: str) -> uuid.UUID | None:
        return parse_guid(text) if text.strip() else None

    return Param(name, required=False, parse=parse)


_CHUNK_PARAMS = (
    _upload_handler(),
    Param("fileChunk", "base64Binary", receive=receive_chunk),
    Param("chunkHEXCRC", parse=parse_crc, wsdl_name="ChunkHEXCRC"),
    boolean("lastChunk"),
    Param("chunkOffset", "long", required=False, parse=parse_int64, extension=True),
)

_FINALIZE_BASE = (_path("path"), _upload_handler())

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("AuthenticateUser", "root", (string("UID"), string("PWD")),
               ops.authenticate_user),
        Method("isValidTicket", "root", (), ops.is_valid_ticket,
               ticket=_ticket("AuthenticationTicket", required=False), ticket_cookie=True,
               renews_ticket=False),
        Method("LogOut", "root", (), ops.log_out,
               ticket=_ticket("AuthenticationTicket", required=False), ticket_cookie=True,
               renews_ticket=False),
        Method("RenewTicket", "root",
               (string("UID"), string("PWD"), string("Lang", required=False),
                _optional_guid("OldTicket")),
               ops.renew_ticket),
        Method("CreateUploadHandler", "response",
               (int32("PreferedChunkSize", required=False),), ops.create_upload_handler,
               ticket=_ticket()),
        Method("UploadFileChunk", "root", _CHUNK_PARAMS, upload_file_chunk, ticket=_ticket()),
        # UploadFileChunk with ChunkOffset in its WSDL signature, so that the
        # legacy operation's generated signature stays the vendor's. Served as
        # UploadFileChunk: ChunkOffset is optional here too (a long, so proxies
        # always send it).
        Method("UploadFileChunkAtOffset", "root",
               (*_CHUNK_PARAMS[:-1], Param("chunkOffset", "long", required=False,
                                           parse=parse_int64, wsdl_name="ChunkOffset")),
               upload_file_chunk, ticket=_ticket(), extension=True),
        Method("GetUploadHandlerStatus", "root", (_upload_handler(),),
               ops.get_upload_handler_status, ticket=_ticket(), extension=True),
        Method("DeleteUploadHandler", "response", (_upload_handler("UploadHandler"),),
               ops.delete_upload_handler, ticket=_ticket()),
        Method("UploadDocumentWithHandler", "root", _FINALIZE_BASE,
               ops.upload_document_with_handler, ticket=_ticket()),
        Method("UploadDocumentWithHandler1", "root",
               (*_FINALIZE_BASE, string("versionComments", required=False)),
               ops.upload_document_with_handler, ticket=_ticket()),
        Method("UploadDocumentWithHandler2", "root",
               (*_FINALIZE_BASE, string("versionComments", required=False),
                _short("mpVersionMajor", 1, 2400, "MPVersionMajor"),
                _short("mpVersionMinor", 0, 999, "MPVersionMinor"),
                _short("mpVersionRevision", 0, 999, "MPVersionRevision")),
               ops.upload_document_with_handler, ticket=_ticket()),
        Method("UploadDocumentWithHandler3", "root", (*_FINALIZE_BASE, _xml_parameters()),
               ops.upload_document_with_handler, ticket=_ticket()),
        Method("UploadNewDocumentWidthHandler", "root",
               (Param("folderPath", parse=ops.folder_path), string("documentName"),
                _upload_handler(), _xml_parameters()),
               ops.upload_new_document_with_handler, ticket=_ticket()),
        Method("GetDownloadHandler", "response",
               (_path("Path", allow_id=True), int32("PreferedChunkSize", required=False)),
               ops.get_download_handler, ticket=_ticket("AuthenticationTicket")),
        Method("GetDownloadHandlerByVersion", "response",
               (_path("Path", allow_id=True), int32("PreferedChunkSize", required=False),
                Param("VersionNumber", "int", parse=integer_parser(1, 2**31 - 1))),
               ops.get_download_handler, ticket=_ticket("AuthenticationTicket")),
        Method("DownloadFileChunk", "response",
               (_download_handler(), Param("StartOffset", "int", parse=parse_int64),
                int32("ChunkSize", required=False)),
               ops.download_file_chunk, ticket=_ticket()),
        Method("DeleteDownloadHandler", "response", (_download_handler(),),
               ops.delete_download_handler, ticket=_ticket()),
    )
}
