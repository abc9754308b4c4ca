"""``GET /srv.asmx?WSDL``: generated from the method table, compatible with the vendor's."""

from xml.etree import ElementTree as ET

import pytest

from chunked_upload.wire.methods import METHODS
from tests.requirements import vendor_file

NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "s": "http://www.w3.org/2001/XMLSchema",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
    "http": "http://schemas.xmlsoap.org/wsdl/http/",
}
LEGACY = [name for name, method in METHODS.items() if not method.extension]


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
    for binding in ("srvSoap", "srvSoap12", "srvHttpGet", "srvHttpPost"):
        operations = ours.findall(f"wsdl:binding[@name='{binding}']/wsdl:operation", NS)
        assert [op.get("name") for op in operations] == list(METHODS)


@pytest.mark.parametrize("method", LEGACY)
def test_request_elements_are_the_vendors(ours, vendor, method):
    extensions = {p.element for p in METHODS[method].all_params if p.extension}
    mine = [p for p in parameters(ours, method) if p["name"] not in extensions]
    assert mine == parameters(vendor, method)


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

    extensions = {p.element for p in METHODS[method].all_params if p.extension}
    for suffix in ("HttpGetIn", "HttpPostIn", "HttpGetOut", "HttpPostOut", "SoapIn", "SoapOut"):
        mine = [p for p in parts(ours, suffix) if p["name"] not in extensions]
        assert mine == parts(vendor, suffix)


def test_extensions_are_optional_elements_and_extra_operations(ours, vendor):
    chunk_offset = parameters(ours, "UploadFileChunk")[-1]
    assert chunk_offset == {"minOccurs": "0", "maxOccurs": "1", "name": "ChunkOffset",
                            "type": "s:long"}
    assert schema_element(ours, "GetUploadHandlerStatus") is not None
    assert schema_element(vendor, "GetUploadHandlerStatus") is None
    documentation = ours.find("wsdl:portType/wsdl:operation[@name='GetUploadHandlerStatus']"
                              "/wsdl:documentation", NS)
    assert "Extension" in documentation.text


def test_loading_it_needs_nothing_from_the_internet(ours):
    assert not ours.findall(".//s:import", NS)


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
