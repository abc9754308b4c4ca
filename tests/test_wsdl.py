"""``GET /srv.asmx?WSDL``: generated from the method table, the vendor's signatures."""

from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from zeep import Client
from zeep.transports import Transport

from chunked_upload.wire.methods import METHODS
from tests.requirements import vendor_file

SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
LOCAL_SOAP_ENCODING = Path(__file__).parent / "data" / "soap-encoding.xsd"
NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "s": "http://www.w3.org/2001/XMLSchema",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
    "http": "http://schemas.xmlsoap.org/wsdl/http/",
}
LEGACY = [name for name, method in METHODS.items() if not method.extension]
EXTENSIONS = [name for name, method in METHODS.items() if method.extension]
BINDINGS = ("srvSoap", "srvSoap12", "srvHttpGet", "srvHttpPost")


class OfflineTransport(Transport):
    """zeep's transport with no network: the test client for this server's
    addresses; the tests' copy of the SOAP-encoding schema for the vendor's import."""

    def __init__(self, client=None):
        super().__init__()
        self.client = client

    def load(self, url):
        if url.rstrip("/") == SOAP_ENCODING.rstrip("/") and self.client is None:
            return LOCAL_SOAP_ENCODING.read_bytes()
        if url.startswith("http://testserver/") and self.client is not None:
            parts = urlsplit(url)
            response = self.client.get(parts.path, QUERY_STRING=parts.query)
            assert response.status_code == 200, url
            return response.content
        if url.startswith("/"):
            return Path(url).read_bytes()
        raise AssertionError(f"the WSDL made zeep fetch {url}")


@pytest.fixture
def ours(client) -> ET.Element:
    response = client.get("/srv.asmx?WSDL")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    return ET.fromstring(response.content)


@pytest.fixture(scope="module")
def vendor() -> ET.Element:
    return ET.parse(vendor_file("inforouter/srv.wsdl")).getroot()


def schema_element(wsdl: ET.Element, name: str) -> ET.Element:
    return wsdl.find(f"wsdl:types/s:schema/s:element[@name='{name}']", NS)


def parameters(wsdl: ET.Element, method: str) -> list[dict[str, str]]:
    sequence = schema_element(wsdl, method).find("s:complexType/s:sequence", NS)
    return [dict(element.attrib) for element in sequence.findall("s:element", NS)]


def soap_operation(wsdl: ET.Element, binding: str, prefix: str, method: str) -> dict[str, str]:
    operation = wsdl.find(f"wsdl:binding[@name='{binding}']/wsdl:operation[@name='{method}']"
                          f"/{prefix}:operation", NS)
    return dict(operation.attrib)


@pytest.mark.parametrize("query", ["WSDL", "wsdl", "Wsdl"])
def test_the_wsdl_is_served_for_any_case_of_the_query(client, query):
    response = client.get(f"/srv.asmx?{query}")
    assert response.status_code == 200
    assert ET.fromstring(response.content).tag == f"{{{NS['wsdl']}}}definitions"


def test_it_describes_every_method_of_the_table_in_every_binding(ours):
    for port_type in ("srvSoap", "srvHttpGet", "srvHttpPost"):
        operations = ours.findall(f"wsdl:portType[@name='{port_type}']/wsdl:operation", NS)
        assert [op.get("name") for op in operations] == list(METHODS)
    for binding in BINDINGS:
        operations = ours.findall(f"wsdl:binding[@name='{binding}']/wsdl:operation", NS)
        assert [op.get("name") for op in operations] == list(METHODS)


@pytest.mark.parametrize("method", LEGACY)
def test_request_elements_are_the_vendors(ours, vendor, method):
    assert parameters(ours, method) == parameters(vendor, method)


@pytest.mark.parametrize("method", LEGACY)
def test_response_elements_are_the_vendors(ours, vendor, method):
    def shape(wsdl):
        element = schema_element(wsdl, f"{method}Response")
        return [(e.tag, dict(e.attrib)) for e in element.iter()]

    assert shape(ours) == shape(vendor)


@pytest.mark.parametrize("method", LEGACY)
def test_soap_actions_are_the_vendors(ours, vendor, method):
    for binding, prefix in (("srvSoap", "soap"), ("srvSoap12", "soap12")):
        assert soap_operation(ours, binding, prefix, method) == soap_operation(
            vendor, binding, prefix, method)
        assert soap_operation(ours, binding, prefix, method)["soapAction"] == (
            f"http://tempuri.org/{method}")


@pytest.mark.parametrize("method", LEGACY)
def test_http_messages_are_the_vendors(ours, vendor, method):
    def parts(wsdl, suffix):
        message = wsdl.find(f"wsdl:message[@name='{method}{suffix}']", NS)
        return [dict(part.attrib) for part in message]

    for suffix in ("HttpGetIn", "HttpPostIn", "HttpGetOut", "HttpPostOut", "SoapIn", "SoapOut"):
        assert parts(ours, suffix) == parts(vendor, suffix)


def test_string_array_is_declared_as_the_vendor_declares_it(ours, vendor):
    def string_array(wsdl):
        schema = wsdl.find("wsdl:types/s:schema[@targetNamespace='http://tempuri.org/AbstractTypes']",
                           NS)
        imports = [i.get("namespace") for i in schema.findall("s:import", NS)]
        array = schema.find("s:complexType[@name='StringArray']", NS)
        return imports, [(e.tag, dict(e.attrib)) for e in array.iter()]

    assert string_array(ours) == string_array(vendor)
    assert "soapenc:Array" in ET.tostring(ours.find(".//s:restriction", NS), encoding="unicode")


@pytest.fixture
def zeep_ours(client) -> Client:
    return Client("http://testserver/srv.asmx?WSDL", transport=OfflineTransport(client))


@pytest.fixture(scope="module")
def zeep_vendor() -> Client:
    return Client(str(vendor_file("inforouter/srv.wsdl")), transport=OfflineTransport())


def signature(client: Client, binding: str, method: str) -> tuple[str, str]:
    operation = client.wsdl.bindings[f"{{http://tempuri.org/}}{binding}"].get(method)
    return operation.input.signature(), operation.output.signature(as_output=True)


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("method", LEGACY)
def test_zeep_derives_the_vendors_signature_for_every_legacy_operation(
        zeep_ours, zeep_vendor, binding, method):
    assert signature(zeep_ours, binding, method) == signature(zeep_vendor, binding, method)


def test_the_string_array_is_the_vendors_for_zeep(zeep_ours, zeep_vendor):
    # Ours restricts the Array of the schema this server serves; the vendor's,
    # the Array of the full SOAP-encoding schema: the same list of strings.
    def string_array(client):
        array = client.get_type("{http://tempuri.org/AbstractTypes}StringArray")
        return array.signature().split(", ")[0], [name for name, _ in array.attributes]

    assert string_array(zeep_ours) == string_array(zeep_vendor)
    assert string_array(zeep_ours)[0].endswith("StringArray(String: xsd:string[]")


def test_extensions_are_operations_of_their_own(ours, vendor):
    assert EXTENSIONS == ["UploadFileChunkAtOffset", "GetUploadHandlerStatus"]
    for name in EXTENSIONS:
        assert schema_element(vendor, name) is None
        documentation = ours.find(f"wsdl:portType/wsdl:operation[@name='{name}']"
                                  "/wsdl:documentation", NS)
        assert "Extension" in documentation.text
    # UploadFileChunk's own signature has no ChunkOffset; this one requires it.
    assert parameters(ours, "UploadFileChunkAtOffset") == [
        *parameters(vendor, "UploadFileChunk"),
        {"minOccurs": "1", "maxOccurs": "1", "name": "ChunkOffset", "type": "s:long"}]


def test_loading_it_fetches_only_from_this_server(ours, client):
    imports = ours.findall(".//s:import", NS)
    assert [i.get("schemaLocation") for i in imports] == [
        "http://testserver/srv.asmx?xsd=soapenc"]
    response = client.get("/srv.asmx?xsd=soapenc")
    assert response.status_code == 200
    schema = ET.fromstring(response.content)
    assert schema.get("targetNamespace") == SOAP_ENCODING
    assert schema.find("s:complexType[@name='Array']", NS) is not None
    assert client.get("/srv.asmx?xsd=other").status_code == 404


def addresses(wsdl: ET.Element) -> set[str]:
    return {address.get("location") for address in wsdl.iterfind("wsdl:service/wsdl:port/*", NS)}


def test_the_address_is_where_the_client_reached_the_service(ours):
    assert len(ours.findall("wsdl:service/wsdl:port", NS)) == 4
    assert addresses(ours) == {"http://testserver/srv.asmx"}


def test_the_address_honours_the_trusted_proxy_headers(client, settings):
    settings.USE_X_FORWARDED_HOST = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = client.get("/srv.asmx?WSDL", HTTP_X_FORWARDED_HOST="edms.example.org",
                          HTTP_X_FORWARDED_PROTO="https")
    assert addresses(ET.fromstring(response.content)) == {"https://edms.example.org/srv.asmx"}


def test_untrusted_forwarded_headers_are_ignored(client):
    response = client.get("/srv.asmx?WSDL", HTTP_X_FORWARDED_HOST="evil.example",
                          HTTP_X_FORWARDED_PROTO="https")
    assert addresses(ET.fromstring(response.content)) == {"http://testserver/srv.asmx"}


def test_the_address_keeps_the_sites_script_name(client):
    response = client.get("/srv.asmx?WSDL", SCRIPT_NAME="/Inforouter")
    assert addresses(ET.fromstring(response.content)) == {"http://testserver/Inforouter/srv.asmx"}
