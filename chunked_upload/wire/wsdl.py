"""The WSDL of ``<mount>/srv.asmx``, generated from the method table.

The same :data:`~.methods.METHODS` drives the views, the SOAP endpoint and
this document, so they cannot drift apart. For the legacy operations it
says exactly what the vendor's production WSDL says (element names, XSD
types, ``minOccurs`` as ASMX derives them, SOAP actions, message and binding
names, ``s1:StringArray`` restricting ``soapenc:Array``): a proxy generated
from either has the same signatures and works with either.

Our extensions never change a legacy signature: they are operations of
their own (GetUploadHandlerStatus, UploadFileChunkAtOffset, which is
UploadFileChunk with ``ChunkOffset``), marked as such in ``documentation``.
The server still accepts ``ChunkOffset`` on UploadFileChunk itself.

The vendor's document imports the SOAP-encoding schema (which ``StringArray``
restricts) from the namespace's address on the internet; this one imports it
from this server (``srv.asmx?xsd=soapenc``, :func:`render_schema`), so
loading it fetches nothing from anywhere else.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from .methods import METHODS, Method
from .params import Param
from .renderers import XML_DECLARATION
from .soap_envelope import TNS

ABSTRACT_TYPES = "http://tempuri.org/AbstractTypes"
# The legacy WSDL's prefixes, so that the two documents read alike.
NAMESPACES = {
    "soapenc": "http://schemas.xmlsoap.org/soap/encoding/",
    "mime": "http://schemas.xmlsoap.org/wsdl/mime/",
    "tns": TNS,
    "s": "http://www.w3.org/2001/XMLSchema",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "s1": ABSTRACT_TYPES,
    "http": "http://schemas.xmlsoap.org/wsdl/http/",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
}
# .NET value types: ASMX makes them minOccurs="1" (a reference type may be absent).
VALUE_TYPES = {"int", "short", "long", "boolean"}
EXTENSION = "Extension of this server: not part of the legacy srv.asmx service."
SOAP_BINDINGS = (("srvSoap", "soap"), ("srvSoap12", "soap12"))
HTTP_BINDINGS = (("srvHttpGet", "GET"), ("srvHttpPost", "POST"))
SOAP_ENCODING = "soapenc"
SOAP_ENCODING_QUERY = f"xsd={SOAP_ENCODING}"

_Sub = ET.SubElement


def render_wsdl(location: str) -> bytes:
    """The WSDL, with every port's address at ``location`` (the srv.asmx URL)."""
    root = ET.Element("wsdl:definitions",
                      {**{f"xmlns:{p}": uri for p, uri in NAMESPACES.items()},
                       "targetNamespace": TNS})
    methods = list(METHODS.values())
    _types(_Sub(root, "wsdl:types"), methods, location)
    for method in methods:
        _messages(root, method)
    for port_type in ("srvSoap", "srvHttpGet", "srvHttpPost"):
        element = _Sub(root, "wsdl:portType", name=port_type)
        suffix = port_type.removeprefix("srv")
        for method in methods:
            operation = _Sub(element, "wsdl:operation", name=method.name)
            if method.extension:
                _Sub(operation, "wsdl:documentation").text = EXTENSION
            _Sub(operation, "wsdl:input", message=f"tns:{method.name}{suffix}In")
            _Sub(operation, "wsdl:output", message=f"tns:{method.name}{suffix}Out")
    for name, prefix in SOAP_BINDINGS:
        _soap_binding(root, name, prefix, methods)
    for name, verb in HTTP_BINDINGS:
        _http_binding(root, name, verb, methods)
    service = _Sub(root, "wsdl:service", name="srv")
    for name, prefix in (*SOAP_BINDINGS, *((name, "http") for name, _ in HTTP_BINDINGS)):
        port = _Sub(service, "wsdl:port", name=name, binding=f"tns:{name}")
        _Sub(port, f"{prefix}:address", location=location)
    ET.indent(root)
    return XML_DECLARATION + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _min_occurs(param: Param) -> str:
    return "1" if param.xsd_type in VALUE_TYPES else "0"


def _signature(method: Method) -> tuple[Param, ...]:
    """The parameters a proxy sees: a legacy operation's stay the vendor's."""
    return tuple(param for param in method.all_params if not param.extension)


def _types(types: ET.Element, methods: list[Method], location: str) -> None:
    schema = _Sub(types, "s:schema", elementFormDefault="qualified", targetNamespace=TNS)
    for method in methods:
        sequence = _Sub(_Sub(_Sub(schema, "s:element", name=method.name), "s:complexType"),
                        "s:sequence")
        for param in _signature(method):
            _Sub(sequence, "s:element", minOccurs=_min_occurs(param), maxOccurs="1",
                 name=param.element, type=f"s:{param.xsd_type}")
        # The result is an XmlNode: ASMX declares it as mixed content of any element.
        response = _Sub(_Sub(_Sub(schema, "s:element", name=f"{method.name}Response"),
                             "s:complexType"), "s:sequence")
        result = _Sub(response, "s:element", minOccurs="0", maxOccurs="1",
                      name=f"{method.name}Result")
        _Sub(_Sub(_Sub(result, "s:complexType", mixed="true"), "s:sequence"), "s:any")
    # ASMX's type for byte[] in the HTTP bindings, declared as the vendor does.
    # The vendor imports the SOAP encoding from its namespace's address on the
    # internet; this import says where this server serves it.
    abstract = _Sub(types, "s:schema", targetNamespace=ABSTRACT_TYPES)
    _Sub(abstract, "s:import", namespace=NAMESPACES["soapenc"],
         schemaLocation=f"{location}?{SOAP_ENCODING_QUERY}")
    array = _Sub(_Sub(_Sub(_Sub(abstract, "s:complexType", name="StringArray"),
                           "s:complexContent", mixed="false"),
                      "s:restriction", base="soapenc:Array"), "s:sequence")
    _Sub(array, "s:element", minOccurs="0", maxOccurs="unbounded", name="String",
         type="s:string")


def render_schema(name: str) -> bytes | None:
    """A schema the WSDL imports, by its ``?xsd=`` name; None for an unknown name."""
    if name.lower() != SOAP_ENCODING:
        return None
    # soapenc:Array as the SOAP 1.1 encoding schema (its section 5) declares it:
    # all that StringArray needs.
    schema = ET.Element("s:schema", {"xmlns:s": NAMESPACES["s"],
                                     "targetNamespace": NAMESPACES["soapenc"]})
    array = _Sub(schema, "s:complexType", name="Array")
    _Sub(_Sub(array, "s:sequence", minOccurs="0"), "s:any", namespace="##any", minOccurs="0",
         maxOccurs="unbounded", processContents="lax")
    # Global attributes there, so namespace-qualified; declared in place because a
    # reference into this namespace would make zeep fetch the published schema.
    for name in ("arrayType", "offset"):
        _Sub(array, "s:attribute", name=name, type="s:string", form="qualified")
    _Sub(array, "s:attribute", name="id", type="s:ID")
    _Sub(array, "s:attribute", name="href", type="s:anyURI")
    _Sub(array, "s:anyAttribute", namespace="##other", processContents="lax")
    ET.indent(schema)
    return XML_DECLARATION + ET.tostring(schema, encoding="utf-8", xml_declaration=False)


def _messages(root: ET.Element, method: Method) -> None:
    name = method.name
    _Sub(_Sub(root, "wsdl:message", name=f"{name}SoapIn"), "wsdl:part",
         name="parameters", element=f"tns:{name}")
    _Sub(_Sub(root, "wsdl:message", name=f"{name}SoapOut"), "wsdl:part",
         name="parameters", element=f"tns:{name}Response")
    for suffix in ("HttpGet", "HttpPost"):
        message = _Sub(root, "wsdl:message", name=f"{name}{suffix}In")
        for param in _signature(method):
            # Over HTTP every value is a string; byte[] is ASMX's StringArray.
            kind = "s1:StringArray" if param.xsd_type == "base64Binary" else "s:string"
            _Sub(message, "wsdl:part", name=param.element, type=kind)
        _Sub(_Sub(root, "wsdl:message", name=f"{name}{suffix}Out"), "wsdl:part", name="Body")


def _soap_binding(root: ET.Element, name: str, prefix: str, methods: list[Method]) -> None:
    binding = _Sub(root, "wsdl:binding", name=name, type="tns:srvSoap")
    _Sub(binding, f"{prefix}:binding", transport="http://schemas.xmlsoap.org/soap/http")
    for method in methods:
        operation = _Sub(binding, "wsdl:operation", name=method.name)
        _Sub(operation, f"{prefix}:operation", soapAction=TNS + method.name, style="document")
        for direction in ("wsdl:input", "wsdl:output"):
            _Sub(_Sub(operation, direction), f"{prefix}:body", use="literal")


def _http_binding(root: ET.Element, name: str, verb: str, methods: list[Method]) -> None:
    binding = _Sub(root, "wsdl:binding", name=name, type=f"tns:{name}")
    _Sub(binding, "http:binding", verb=verb)
    for method in methods:
        operation = _Sub(binding, "wsdl:operation", name=method.name)
        _Sub(operation, "http:operation", location=f"/{method.name}")
        request = _Sub(operation, "wsdl:input")
        if verb == "GET":
            _Sub(request, "http:urlEncoded")
        else:
            _Sub(request, "mime:content", type="application/x-www-form-urlencoded")
        _Sub(_Sub(operation, "wsdl:output"), "mime:content", part="Body", type="text/xml")
