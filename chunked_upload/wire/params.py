"""Parameters of the web-service methods: declaration and parsing.

Names match case-insensitively in every binding. Values parse the way the
legacy .NET server parsed them (``Boolean.Parse``, ``Int32.Parse``, GUIDs
with or without braces) and a malformed one is the error its declaration
names, ``Invalid parameter: NAME.`` unless it says otherwise.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from defusedxml import ElementTree as SafeET

from ..exceptions import InvalidParameter, MissingParameter, ProtocolError

_INTEGER = re.compile(r"^\s*[+-]?\d{1,20}\s*$")


class Raw(dict[str, str]):
    """Raw parameter values keyed by casefolded name; the first value wins."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        for name, value in items:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        self.setdefault(name.casefold(), value)

    def find(self, name: str) -> str | None:
        return self.get(name.casefold())


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise ValueError(text)
    return value == "true"


def integer_parser(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not _INTEGER.match(text):
            raise ValueError(text)
        value = int(text)
        if not low <= value <= high:
            raise ValueError(text)
        return value

    return parse


parse_int32 = integer_parser(-(2**31), 2**31 - 1)
parse_int64 = integer_parser(-(2**63), 2**63 - 1)


def parse_guid(text: str) -> uuid.UUID:
    return uuid.UUID(text.strip())


@dataclass(frozen=True)
class XmlParameters:
    """``<xmlparameters><item NAME="…" VALUE="…"/>…</xmlparameters>``, keys upper-cased."""

    items: Mapping[str, str]

    def get(self, key: str) -> str | None:
        return self.items.get(key.upper())


def parse_xml_parameters(text: str) -> XmlParameters:
    """Parse with DTDs and entities refused; ``""`` means no options."""
    if not text.strip():
        return XmlParameters({})
    try:
        root = SafeET.fromstring(text, forbid_dtd=True)
    except Exception as exc:  # defusedxml and expat raise several kinds
        raise ValueError("malformed xmlParameters") from exc
    if root.tag.lower() != "xmlparameters":
        raise ValueError("not <xmlparameters>")
    items = {}
    for item in root:
        name = item.get("NAME") or item.get("name")
        if item.tag.lower() == "item" and name:
            value = item.get("VALUE", item.get("value"))
            items.setdefault(name.upper(), value if value is not None else (item.text or ""))
    return XmlParameters(items)


@dataclass(frozen=True)
class Param:
    """One parameter of a method.

    ``name`` is the spelling of the vendor's HTTP pages, used in error texts;
    ``wsdl_name`` the element name of the legacy WSDL.
    """

    name: str
    xsd_type: str = "string"
    required: bool = True
    parse: Callable[[str], Any] = str
    #: Raised instead of InvalidParameter when the value is malformed.
    malformed: Callable[[], ProtocolError] | None = None
    wsdl_name: str | None = None
    #: Our extensions: optional in the WSDL, absent from the vendor's.
    extension: bool = False
    #: A streamed parameter (UploadFileChunk's fileChunk) is not read as text:
    #: ``receive(call, part)`` takes its bytes as they arrive and returns its value.
    receive: Callable[[Any, Any], Any] | None = None

    @property
    def element(self) -> str:
        return self.wsdl_name or self.name[:1].upper() + self.name[1:]

    def value(self, raw: Raw) -> Any:
        """The parsed value, None when optional and absent.

        An empty value of an optional parameter is absent: a generated HTTP
        proxy sends every parameter of its message, ``Name=`` for a null one.
        """
        text = raw.find(self.name)
        if text is None or (text == "" and not self.required):
            if self.required:
                raise MissingParameter(self.name)
            return None
        try:
            return self.parse(text)
        except ValueError:
            if self.malformed is not None:
                raise self.malformed() from None
            raise InvalidParameter(self.name) from None


def parse_all(params: Iterable[Param], raw: Raw) -> dict[str, Any]:
    """Every value, in declaration order, so the first bad one is the error."""
    return {param.name: param.value(raw) for param in params}


def string(name: str, *, required: bool = True, **kwargs: Any) -> Param:
    return Param(name, "string", required, str, **kwargs)


def int32(name: str, *, required: bool = True, **kwargs: Any) -> Param:
    return Param(name, "int", required, parse_int32, **kwargs)


def boolean(name: str, *, required: bool = True, **kwargs: Any) -> Param:
    return Param(name, "boolean", required, parse_bool, **kwargs)


def guid(name: str, malformed: Callable[[], ProtocolError], **kwargs: Any) -> Param:
    return Param(name, "string", True, parse_guid, malformed, **kwargs)
