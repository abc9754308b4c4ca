"""PHP's SoapClient, built from either WSDL, over SOAP 1.1 and SOAP 1.2.

``php/workflow.php`` runs the whole workflow (log in, upload handler, chunks,
finalize, download handler, chunks, log out) against the live test server
with a user name, password and document path that are not ASCII. PHP's
SoapClient has no HTTP GET/POST bindings; the .NET proxies cover those.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.requirements import vendor_file

from .toolchains import PASSWORD, USERNAME, require, require_php_extension, stored_document

pytestmark = pytest.mark.django_db(transaction=True)

WORKFLOW = Path(__file__).with_name("php") / "workflow.php"


@pytest.fixture(scope="module")
def php() -> str:
    php = require("PHP", "php")["php"]
    require_php_extension(php, "soap")
    return php


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("origin", ["vendor", "ours"])
def test_php_soapclient_runs_the_whole_workflow(
        php, live_server, proxy_user, payload, document_path, origin, version):
    data, source, target = payload
    url = f"{live_server.url}/srv.asmx"
    wsdl = str(vendor_file("inforouter/srv.wsdl")) if origin == "vendor" else f"{url}?WSDL"
    done = subprocess.run(
        [php, str(WORKFLOW), wsdl, version, url, USERNAME, PASSWORD, document_path,
         str(256 * 1024), str(source), str(target)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert done.stdout.strip() == f"OK SOAP {version}"
    assert target.read_bytes() == data
    assert stored_document().owner == proxy_user
