"""Reading SOAP envelopes as they arrive: expat, fed from the request stream.

A document/literal wrapped request is ``Envelope / Body / <Method> / <Param>…``.
:class:`EnvelopeReader` checks the envelope as far as the method's element,
then hands the parameter elements out in body order, shaped like form parts
(:class:`~.dispatch.PartLike`), each value streamed from the parser as the
consumer reads it: a 32 MiB ``FileChunk`` is never held whole, neither as
Base64 text nor as bytes.

Safety: a DTD is refused outright (so no entity can be declared, internal or
external), parameter entities are never parsed, and the body size, element
depth and count, and the size of any single piece of markup are bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.parsers import expat

from ..exceptions import InvalidParameter, LimitExceeded, ProtocolError
from .bodies import TooManyFields
from .methods import METHODS, Method

TNS = "http://tempuri.org/"
XSI_NIL = "http://www.w3.org/2001/XMLSchema-instance nil"

# Measured: 64 KiB pieces parse and decode a third faster than 256 KiB ones
# (they stay in the CPU cache from expat through Base64 to the CRC).
READ_SIZE = 1 << 16
MAX_DEPTH = 32
MAX_ELEMENTS = 10_000
# Markup expat must hold whole (a tag with its attributes, a comment): text
# is handed over as it is parsed and never counts against this.
MAX_MARKUP = 1 << 20

_START, _END, _TEXT = range(3)


@dataclass(frozen=True)
class SoapVersion:
    """What differs between SOAP 1.1 and 1.2 on the wire."""

    name: str
    namespace: str
    content_type: str
    #: Fault codes by their SOAP 1.1 names.
    fault_codes: dict[str, str]


SOAP11 = SoapVersion("1.1", "http://schemas.xmlsoap.org/soap/envelope/", "text/xml", {})
SOAP12 = SoapVersion("1.2", "http://www.w3.org/2003/05/soap-envelope", "application/soap+xml",
                     {"Client": "Sender", "Server": "Receiver"})
VERSIONS = {version.namespace: version for version in (SOAP11, SOAP12)}


class SoapFault(ProtocolError):
    """A request answered by a SOAP Fault rather than by a method's result.

    It is a :class:`ProtocolError` so that the method layer, which turns every
    exception into an answer, lets it pass as the client's error (not logged
    as an internal one); the endpoint then answers the fault the reader kept.
    """

    def __init__(self, reason: str, fault_code: str = "Client") -> None:
        super().__init__(reason)
        self.fault_code = fault_code


def _split(name: str) -> tuple[str, str]:
    """expat's ``"namespace local"`` as (namespace, local); no namespace is ``""``."""
    namespace, _, local = name.rpartition(" ")
    return namespace, local


class EnvelopeReader:
    """One SOAP request body, parsed while it is read."""

    def __init__(self, stream: BinaryIO, *, read_size: int = READ_SIZE) -> None:
        self.version: SoapVersion | None = None
        #: The fault this request must be answered with, once one is found.
        self.fault: SoapFault | None = None
        self._stream = stream
        self._read_size = read_size
        self._received = 0
        self._events: deque[tuple[int, Any, Any]] = deque()
        self._elements = 0
        self._depth = 0
        self._done = False
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True  # text in few large pieces, not one per line
        parser.buffer_size = read_size
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartElementHandler = self._on_start
        parser.EndElementHandler = self._on_end
        parser.CharacterDataHandler = self._on_text
        # Refusing the DOCTYPE stops every DTD trick; the rest are belt and braces.
        for handler in ("StartDoctypeDeclHandler", "EntityDeclHandler",
                        "UnparsedEntityDeclHandler", "ExternalEntityRefHandler"):
            setattr(parser, handler, self._refuse_dtd)
        self._parser = parser

    # expat handlers: they only queue events, the consumer pulls them -------
    def _on_start(self, name: str, attributes: dict[str, str]) -> None:
        self._depth += 1
        self._elements += 1
        if self._depth > MAX_DEPTH or self._elements > MAX_ELEMENTS:
            raise SoapFault("The request has too many XML elements or nests them too deeply.")
        self._events.append((_START, name, attributes))

    def _on_end(self, name: str) -> None:
        self._depth -= 1
        self._events.append((_END, name, None))

    def _on_text(self, text: str) -> None:
        self._events.append((_TEXT, text, None))

    def _refuse_dtd(self, *args: object) -> None:
        raise SoapFault("DTDs and entity declarations are not allowed in SOAP requests.")

    # Pulling events ---------------------------------------------------------
    def _fail(self, fault: SoapFault) -> SoapFault:
        if self.fault is None:
            self.fault = fault
        return self.fault

    def _next(self) -> tuple[int, Any, Any] | None:
        """The next event; None once the document has ended (well-formed)."""
        while not self._events:
            if self._done:
                return None
            data = self._stream.read(self._read_size)
            self._received += len(data)
            try:
                self._parser.Parse(data, not data)
            except expat.ExpatError as exc:
                raise self._fail(SoapFault(
                    f"The request is not well-formed XML: {expat.ErrorString(exc.code)} "
                    f"(line {exc.lineno}, column {exc.offset})."
                )) from None
            except SoapFault as fault:
                raise self._fail(fault) from None
            self._done = not data
            if self._received - self._parser.CurrentByteIndex > MAX_MARKUP:
                raise self._fail(SoapFault("The request holds a piece of XML markup too large."))
        return self._events.popleft()

    def _pull(self) -> tuple[int, Any, Any]:
        """The next event, which the envelope's structure says must come."""
        event = self._next()
        if event is None:  # expat checks that elements close: only a bug gets here
            raise self._fail(SoapFault("The request ends before its envelope does."))
        return event

    def _next_element(self) -> tuple[int, str, dict[str, str] | None]:
        """The next start or end of an element; text between elements is ignored."""
        while True:
            kind, name, attributes = self._pull()
            if kind != _TEXT:
                return kind, name, attributes

    def _skip_element(self) -> None:
        """Skip the rest of the element whose start was just read."""
        depth = 1
        while depth:
            kind = self._pull()[0]
            depth += {_START: 1, _END: -1}.get(kind, 0)

    # The envelope -------------------------------------------------------------
    def open(self, action: str | None) -> Method:
        """Read the envelope up to the method's element and return its method.

        ``action`` is the SOAPAction (or SOAP 1.2 ``action``) the client sent,
        if any: it must name the same method as the body does.
        """
        kind, name, _ = self._next_element()
        namespace, local = _split(name)
        if local != "Envelope":
            raise self._fail(SoapFault("The request is not a SOAP envelope."))
        self.version = VERSIONS.get(namespace)
        if self.version is None:
            raise self._fail(SoapFault(
                f"Unknown SOAP envelope namespace {namespace!r}.", "VersionMismatch"))
        kind, name, _ = self._next_element()
        if kind == _START and name == f"{self.version.namespace} Header":
            self._read_header()
            kind, name, _ = self._next_element()
        if kind != _START or name != f"{self.version.namespace} Body":
            raise self._fail(SoapFault("The SOAP envelope has no Body."))
        kind, name, _ = self._next_element()
        if kind != _START:
            raise self._fail(SoapFault("The SOAP Body names no operation."))
        namespace, local = _split(name)
        method = METHODS.get(local) if namespace == TNS else None
        if method is None:
            raise self._fail(SoapFault(f"Unknown operation {{{namespace}}}{local}."))
        if action and action != TNS + method.name:
            raise self._fail(SoapFault(
                f"The SOAP action {action!r} does not match the operation {method.name!r} "
                "of the Body."))
        return method

    def _read_header(self) -> None:
        must_understand = f"{self.version.namespace} mustUnderstand"
        while True:
            kind, name, attributes = self._next_element()
            if kind == _END:
                return
            if attributes.get(must_understand, "").strip() in ("1", "true"):
                raise self._fail(SoapFault(
                    f"Header {_split(name)[1]!r} must be understood, and is not.",
                    "MustUnderstand"))
            self._skip_element()

    def parts(self, method: Method, max_fields: int | None = None) -> Iterator[SoapPart]:
        """The method element's children, in body order, as parts named by parameter.

        Element names match parameters case-insensitively, in any namespace;
        ``xsi:nil="true"`` means absent; past ``max_fields`` children (nil ones
        count) :class:`~.bodies.TooManyFields` is raised. When the operation's
        element ends, the rest of the envelope is read and checked before the
        iteration stops, so nothing is committed from a request that turns out
        malformed.
        """
        left = max_fields
        while True:
            kind, name, attributes = self._next_element()
            if kind == _END:
                break
            if left is not None:
                left -= 1
                if left < 0:
                    raise TooManyFields("the operation has too many parameter elements")
            if attributes.get(XSI_NIL, "").strip() in ("1", "true"):
                self._skip_element()
                continue
            local = _split(name)[1]
            param = method.param_named(local)  # element names match in any case
            part = SoapPart(self, param.name if param is not None else local)
            yield part
            part.close()
        self._read_to_end()

    def _read_to_end(self) -> None:
        while (event := self._next()) is not None:
            if event[0] == _START:
                raise self._fail(SoapFault("The SOAP envelope holds more than one operation."))


class SoapPart:
    """One parameter element; its text is streamed once, before the next part is asked for."""

    is_file = False  # the value is text: Base64 for FileChunk

    def __init__(self, reader: EnvelopeReader, name: str) -> None:
        self.name = name
        self._reader = reader
        self._claimed = False
        self._open = True

    def _texts(self) -> Iterator[str]:
        if self._claimed:
            raise RuntimeError(f"the value of {self.name!r} was already consumed")
        self._claimed = True
        while self._open:
            kind, value, _ = self._reader._pull()
            if kind == _TEXT:
                yield value
            elif kind == _END:
                self._open = False
            else:  # an element inside a value: none of our parameters' types has one
                raise InvalidParameter(self.name)

    def iter_bytes(self) -> Iterator[bytes]:
        """The value's text, UTF-8 encoded, in pieces as the parser produces them."""
        return (text.encode() for text in self._texts())

    def read_text(self, limit: int) -> str:
        """The whole value; ``Limit exceeded: parameter size.`` past ``limit`` characters."""
        pieces, size = [], 0
        for text in self._texts():
            size += len(text)
            if size > limit:
                raise LimitExceeded("parameter size")
            pieces.append(text)
        return "".join(pieces)

    def close(self) -> None:
        """Skip whatever the consumer left unread of this element."""
        if self._open:
            self._claimed = True
            self._open = False
            self._reader._skip_element()
