"""node-soap, built from either WSDL: the vendor's signatures, and the whole
workflow over SOAP 1.1 and SOAP 1.2 (node-soap has no HTTP bindings).

``node/workflow.js`` runs against the live test server with a user name,
password and document path that are not ASCII. node-soap is pinned in
``node/package.json`` (and its lock file); ``npm ci`` in that folder installs it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.requirements import missing as missing_requirement
from tests.requirements import vendor_file

from .toolchains import LEGACY, PASSWORD, USERNAME, require, stored_document

pytestmark = pytest.mark.django_db(transaction=True)

NODE_DIR = Path(__file__).with_name("node")
WORKFLOW = NODE_DIR / "workflow.js"


@pytest.fixture(scope="module")
def node() -> str:
    node = require("node-soap", "node")["node"]
    if not (NODE_DIR / "node_modules" / "soap").is_dir():
        missing_requirement("node-soap (for the node-soap proxy tests)",
                            f"run `npm ci` in {NODE_DIR}")
    return node


def run(node: str, *args: str) -> str:
    done = subprocess.run([node, str(WORKFLOW), *args], cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def test_node_soap_derives_the_vendors_signature_for_every_legacy_operation(node, live_server):
    ours = json.loads(run(node, "describe", f"{live_server.url}/srv.asmx?WSDL"))["srv"]
    vendor = json.loads(run(node, "describe", str(vendor_file("inforouter/srv.wsdl"))))["srv"]
    assert set(ours) == {"srvSoap", "srvSoap12"}
    for port in ours:
        for name in LEGACY:
            assert ours[port][name] == vendor[port][name], (port, name)


@pytest.mark.parametrize("port", ["srvSoap", "srvSoap12"])
@pytest.mark.parametrize("origin", ["vendor", "ours"])
def test_node_soap_runs_the_whole_workflow(
        node, live_server, proxy_user, payload, document_path, origin, port):
    data, source, target = payload
    url = f"{live_server.url}/srv.asmx"
    wsdl = str(vendor_file("inforouter/srv.wsdl")) if origin == "vendor" else f"{url}?WSDL"
    output = run(node, "run", wsdl, port, url, USERNAME, PASSWORD, document_path,
                 str(256 * 1024), str(source), str(target))
    assert output.strip() == f"OK {port}"
    assert target.read_bytes() == data
    assert stored_document().owner == proxy_user
