"""Transport rules: every method in every binding, names, status codes, XML, CSRF."""

import pytest
from django.test import Client, RequestFactory

from chunked_upload.wire.methods import METHODS
from chunked_upload.wire.views import ServiceMethodView
from tests.factories import PASSWORD, UserFactory
from tests.srv import BINDINGS, Answer, Srv

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_answers_in_every_binding(srv, method, binding):
    # With no parameters at all every method still answers its own root node.
    answer = srv.call(method, binding)
    assert answer.response.status_code == 200
    assert answer.tag == METHODS[method].root
    assert answer["success"] == "false"


def test_method_names_are_matched_exactly(srv):
    answer = Answer(srv.client.get("/srv.asmx/authenticateuser"))
    assert answer.response.status_code == 404
    assert answer.tag == "root" and answer["success"] == "false"


@pytest.mark.parametrize("verb", ["put", "delete", "patch"])
def test_other_http_methods_are_405(srv, verb):
    response = getattr(srv.client, verb)("/srv.asmx/LogOut")
    assert response.status_code == 405
    assert Answer(response).tag == "root"
    assert "GET" in response["Allow"] and "POST" in response["Allow"]


def test_answers_are_xml_whatever_the_client_accepts(srv):
    response = srv.client.get("/srv.asmx/LogOut", HTTP_ACCEPT="application/json")
    assert response["Content-Type"] == "text/xml; charset=utf-8"


def test_values_are_escaped_by_the_serializer(srv):
    user = UserFactory(username='o"brien<&>', first_name="Ann & <Co>")
    answer = srv.call("AuthenticateUser", UID=user.username, PWD=PASSWORD)
    assert answer["username"] == 'o"brien<&>'
    assert answer["firstName"] == "Ann & <Co>"
    assert b"&lt;&amp;&gt;" in answer.content


def test_csrf_does_not_apply_to_the_service(user):
    client = Srv(Client(enforce_csrf_checks=True))
    assert client.login(user.username, PASSWORD)


def test_csrf_still_protects_the_rest_of_the_site(user):
    response = Client(enforce_csrf_checks=True).post(
        "/admin/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 403


class UnreadableBody:
    """A request body that fails the test if anyone reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def test_a_body_over_the_limit_is_413_before_it_is_read(config):
    config(MAX_REQUEST_SIZE=1000)
    request = RequestFactory().generic(
        "POST", "/srv.asmx/UploadFileChunk", b"",
        content_type="multipart/form-data; boundary=x", CONTENT_LENGTH="5000")
    request.META["wsgi.input"] = UnreadableBody()
    request._stream = UnreadableBody()
    response = ServiceMethodView.as_view()(request, method_name="UploadFileChunk")
    response.render()
    assert response.status_code == 413
    answer = Answer(response)
    assert (answer.tag, answer["errorCode"]) == ("root", "4130")
    assert answer.error == "Limit exceeded: request size."


def test_the_default_limit_fits_a_32_mib_chunk_in_base64(srv):
    from chunked_upload.conf import get_config

    assert get_config()["MAX_REQUEST_SIZE"] > (32 << 20) * 4 // 3


def test_a_malformed_multipart_body_is_a_protocol_error(srv):
    response = srv.client.generic(
        "POST", "/srv.asmx/UploadFileChunk", b"--xyz\r\nContent-Disposition: form-data",
        content_type="multipart/form-data; boundary=xyz")
    answer = Answer(response)
    assert answer.error == "Invalid parameter: request body."


def test_an_oversized_text_parameter_is_a_limit(srv):
    answer = srv.call("AuthenticateUser", UID="x" * (2 << 20), PWD="y")
    assert answer.error == "Limit exceeded: parameter size."


def test_duplicate_parameters_the_first_wins(srv, user):
    response = srv.client.post("/srv.asmx/AuthenticateUser",
                               f"UID={user.username}&PWD={PASSWORD}&PWD=wrong",
                               content_type="application/x-www-form-urlencoded")
    assert Answer(response).ok


def test_unknown_content_types_carry_no_parameters(srv):
    response = srv.client.post("/srv.asmx/AuthenticateUser", b"UID=x&PWD=y",
                               content_type="text/plain")
    assert Answer(response).error == "Missing parameter: UID."


def test_upload_file_chunk_is_an_entry_like_the_others():
    method = METHODS["UploadFileChunk"]
    assert callable(method.operation)
    streamed = [param.name for param in method.params if param.receive is not None]
    assert streamed == ["fileChunk"]
    assert all(callable(m.operation) for m in METHODS.values())


def test_parameters_are_found_by_name_or_element_in_any_case():
    method = METHODS["UploadDocumentWithHandler2"]
    assert method.param_named("MPVERSIONMAJOR").name == "mpVersionMajor"
    assert method.param_named("AuthenticationTicket") is method.ticket
    assert method.param_named("nothing") is None
