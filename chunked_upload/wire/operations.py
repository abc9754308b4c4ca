"""What each method does: parsed values in, engine call, answer attributes out.

Shared by every binding (GET, POST, multipart, SOAP). UploadFileChunk is not
here: its bytes stream, see :mod:`.chunks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ..engine import downloads, finalize, tickets, uploads
from ..engine.checksums import format_crc
from ..engine.paths import document_path, split_folder_path
from ..exceptions import InvalidParameter
from ..models import Ticket
from .answers import Base64Text, xml_value
from .params import XmlParameters, parse_bool, parse_guid


@dataclass(frozen=True)
class Call:
    """One method call: the request, the parsed values and the checked ticket."""

    request: HttpRequest | None
    values: dict[str, Any]
    ticket: Ticket | None = None


def _user_attributes(ticket: Ticket) -> dict[str, str]:
    user = ticket.user
    first = getattr(user, "first_name", "")
    last = getattr(user, "last_name", "")
    return {
        "userid": str(user.pk),
        "username": user.get_username(),
        "firstName": first,
        "lastName": last,
        "fullname": f"{first} {last}".strip() or user.get_username(),
        "email": getattr(user, "email", "") or "",
        "expireOn": xml_value(ticket.expires_at),
        "isAuthenticated": "True",
    }


def _issued(issued: tickets.IssuedTicket) -> dict[str, str]:
    return {"ticket": str(issued.key), **_user_attributes(issued.ticket)}


def authenticate_user(call: Call) -> dict[str, str]:
    return _issued(tickets.log_in(call.request, call.values["UID"], call.values["PWD"]))


def renew_ticket(call: Call) -> dict[str, str]:
    values = call.values
    old = values["OldTicket"]
    if old is None and call.request is not None and call.request.COOKIES.get("ticket"):
        try:
            old = parse_guid(call.request.COOKIES["ticket"])
        except ValueError:
            old = None  # a stale cookie is no reason to refuse a log-in
    return _issued(tickets.renew(call.request, values["UID"], values["PWD"], old))


def is_valid_ticket(call: Call) -> dict[str, str]:
    return _user_attributes(call.ticket)


def log_out(call: Call) -> dict[str, str]:
    tickets.log_out(call.ticket)
    return {}


def create_upload_handler(call: Call) -> dict[str, str]:
    handler = uploads.create_handler(call.ticket, call.values["PreferedChunkSize"])
    return {"error": "", "UploadHandler": str(handler.id), "ChunkSize": str(handler.chunk_size)}


def get_upload_handler_status(call: Call) -> dict[str, str]:
    status = uploads.status(call.ticket, call.values["uploadHandler"])
    return {
        "UploadHandler": str(status.handler_id),
        "ChunkSize": str(status.chunk_size),
        "offset": str(status.offset),
        "chunks": str(status.chunks),
        "complete": xml_value(status.complete),
        "filehexcrc": format_crc(status.file_crc),
        "expireOn": xml_value(status.expires_at),
    }


def delete_upload_handler(call: Call) -> dict[str, str]:
    uploads.delete_handler(call.ticket, call.values["UploadHandler"])
    return {"error": ""}


def _finalized(result: finalize.FinalizeResult) -> dict[str, str]:
    return {"DocumentId": str(result.document_id), "VersionId": str(result.version_id)}


def upload_document_with_handler(call: Call) -> dict[str, str]:
    """UploadDocumentWithHandler, 1, 2 and 3: they differ only in options."""
    values = call.values
    mp_version = None
    if "mpVersionMajor" in values:
        mp_version = (values["mpVersionMajor"], values["mpVersionMinor"],
                      values["mpVersionRevision"])
    if "xmlParameters" in values:
        options = options_from_xml(values["xmlParameters"])
    else:
        options = finalize.VersionOptions(comment=values.get("versionComments") or "",
                                          mp_version=mp_version)
    result = finalize.finalize(call.ticket, values["uploadHandler"], values["path"], options)
    return _finalized(result)


def upload_new_document_with_handler(call: Call) -> dict[str, str]:
    values = call.values
    path = document_path(values["folderPath"], values["documentName"], "documentName")
    options = options_from_xml(values["xmlParameters"])
    return _finalized(finalize.finalize(
        call.ticket, values["uploadHandler"], path, options, new_document_only=True))


def options_from_xml(xml: XmlParameters | None) -> finalize.VersionOptions:
    """The UploadDocument4 keys we store; known keys with bad values are refused."""
    if xml is None:
        return finalize.VersionOptions()
    try:
        for key in ("CHECKOUT", "SENDEMAILS"):
            if xml.get(key) is not None:
                parse_bool(xml.get(key))
        if (xml.get("PUBLISHOPTION") or "serverdefault").lower() not in (
            "serverdefault", "publish", "dontpublish"
        ):
            raise ValueError("PUBLISHOPTION")
        mp_version = _mp_version(xml)
        modified = _xml_datetime(xml.get("MODIFICATIONDATE"))
    except ValueError:
        raise InvalidParameter("xmlParameters") from None
    return finalize.VersionOptions(
        comment=xml.get("VERSIONCOMMENT") or "",
        description=xml.get("DESCRIPTION"),
        keywords=xml.get("KEYWORDS"),
        mp_version=mp_version,
        modified_at=modified,
    )


def _mp_version(xml: XmlParameters) -> tuple[int, int, int] | None:
    parts = [xml.get(f"MPVERSION{p.upper()}") for p in finalize.MP_VERSION_BOUNDS]
    if all(p is None for p in parts):
        return None
    major, minor, revision = (int(p or 0) for p in parts)
    return finalize.check_mp_version((major, minor, revision))


def _xml_datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    value = parse_datetime(text)
    if value is None and (day := parse_date(text)) is not None:
        value = datetime(day.year, day.month, day.day)
    if value is None:
        raise ValueError(text)
    if value.tzinfo is None:
        value = timezone.make_aware(value)
    return value


def get_download_handler(call: Call) -> dict[str, str]:
    values = call.values
    number = values.get("VersionNumber")
    handler = downloads.open_download(call.ticket, values["Path"], values["PreferedChunkSize"],
                                      version_number=number)
    version = handler.version
    return {
        "Size": str(version.size),
        "ContentType": version.content_type,
        "ModificationDate": version.modified_at.strftime("%Y-%m-%d"),
        "VersionNumber": str(number or 0),
        "AlterDocumentName": version.document.name,
        "RenderedContent": "false",
        "CRC32": format_crc(version.crc32),
        "ChunkSize": str(handler.chunk_size),
        "downloadhandler": str(handler.id),
    }


def download_file_chunk(call: Call) -> tuple[dict[str, str], Base64Text]:
    """The chunk travels Base64-encoded as the element's text."""
    values = call.values
    chunk = downloads.read_chunk(call.ticket, values["DownloadHandler"], values["StartOffset"],
                                 values["ChunkSize"])
    attributes = {
        "filelength": str(chunk.file_length),
        "chunklength": str(len(chunk.data)),
        "lastchunk": xml_value(chunk.last),
        "chunkCRC32": format_crc(chunk.crc32),
    }
    return attributes, Base64Text(chunk.data)


def delete_download_handler(call: Call) -> dict[str, str]:
    downloads.delete_download(call.ticket, call.values["DownloadHandler"])
    return {"error": ""}


def folder_path(text: str) -> tuple[str, ...]:
    return split_folder_path(text, "folderPath")
