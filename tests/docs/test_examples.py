"""Every shell and Python example in README.md and docs/ runs against a live demo site.

The site is the one the README starts: ``manage.py rundemo`` (account
demo / demo), on a free port, with its own data directory and SQLite. The
examples are taken from the Markdown as written, only the address
``http://127.0.0.1:8000`` replaced by the site's. A page's shell blocks run in
order in one shell (later blocks use earlier blocks' variables), ``set -e``;
each ``python`` block runs on its own. Where an ``xml`` block follows a shell
block, the last answer that block printed must have the same element,
attribute names (in order), ``success``, ``tryagain`` and ``error``.
Fragments (info string ``sh fragment`` / ``python fragment``) are checked
for syntax only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.requirements import missing

from .markdown import PYTHON, REPO, SHELL, Block, Page, markdown_files, name

pytestmark = pytest.mark.slow
DOCUMENTED = "http://127.0.0.1:8000"
MARK = "@@ example block {} @@"
PAGES = [Page.read(path) for path in markdown_files()]
SHELL_PAGES = [page for page in PAGES if any(b.runs and b.language in SHELL for b in page.blocks)]
PYTHON_BLOCKS = [b for page in PAGES for b in page.blocks if b.runs and b.language in PYTHON]
FRAGMENTS = [b for page in PAGES for b in page.blocks if b.is_example and not b.runs]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[str]:
    """``manage.py rundemo 127.0.0.1:PORT``, as the README starts it; its base URL."""
    data = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_DEBUG")}
    env.update(DJANGO_SETTINGS_MODULE="project.settings", DATA_DIR=str(data / "var"),
               PYTHONUNBUFFERED="1")
    log = open(data / "rundemo.log", "wb")  # noqa: SIM115 (the server keeps it)
    process = subprocess.Popen([sys.executable, "manage.py", "rundemo", f"127.0.0.1:{port}"],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (data / "rundemo.log").read_text()
            try:
                urllib.request.urlopen(f"{url}/srv.asmx/isValidTicket", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, (data / "rundemo.log").read_text()
                time.sleep(0.3)
        banner = (data / "rundemo.log").read_text()
        # The banner names the account and an address a browser can open.
        assert "demo / demo" in banner and f"{url}/admin/" in banner, banner
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def workdir(tmp_path) -> Path:
    """Where an example runs: an empty directory with a README.md to upload."""
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    return tmp_path


def _run(command, workdir: Path, stdin: str, timeout: float = 600) -> str:
    # As in a shell with the virtualenv activated: python and console scripts are its own.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    done = subprocess.run(command, cwd=workdir, input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                "PATH": path})
    assert done.returncode == 0, f"exit status {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _following_answer(page: Page, block: Block) -> ET.Element | None:
    index = page.blocks.index(block)
    if index + 1 < len(page.blocks) and page.blocks[index + 1].language == "xml":
        return ET.fromstring(page.blocks[index + 1].text.split("?>", 1)[-1].strip())
    return None


def _same_answer(shown: ET.Element, output: str, where: Block) -> None:
    assert "<?xml" in output, f"{where}: printed no answer:\n{output}"
    got = ET.fromstring(output.rsplit("<?xml", 1)[1].split("?>", 1)[1].strip())
    assert [e.tag for e in got.iter()] == [e.tag for e in shown.iter()], f"{where}: {output}"
    # The answer node: the root, or inside a SOAP envelope the element with the result.
    got, shown = (next(e for e in tree.iter() if "success" in e.attrib) for tree in (got, shown))
    assert (got.tag, list(got.attrib)) == (shown.tag, list(shown.attrib)), f"{where}: {output}"
    for key in ("success", "tryagain", "error"):
        assert got.get(key) == shown.get(key), f"{where}: {key}: {output}"


@pytest.mark.parametrize("page", SHELL_PAGES, ids=lambda page: name(page.path))
def test_shell_examples_run(page, demo, workdir):
    for tool in ("curl", "sed", "base64"):
        if shutil.which(tool) is None:
            missing(tool, f"apt-get install {'coreutils' if tool == 'base64' else tool}")
    blocks = [b for b in page.blocks if b.runs and b.language in SHELL]
    script = ["set -euo pipefail"]
    for number, block in enumerate(blocks):
        script += [f"printf '\\n{MARK.format(number)}\\n'", block.text.replace(DOCUMENTED, demo)]
    output = _run(["bash"], workdir, "\n".join(script))
    pieces = output.split("\n@@ example block ")[1:]
    assert len(pieces) == len(blocks), output
    for block, piece in zip(blocks, pieces, strict=True):
        shown = _following_answer(page, block)
        if shown is not None:
            _same_answer(shown, piece.split("@@\n", 1)[1], block)


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=str)
def test_python_examples_run(block, demo, workdir):
    _run([sys.executable, "-"], workdir, block.text.replace(DOCUMENTED, demo))


@pytest.mark.parametrize("block", FRAGMENTS, ids=str)
def test_fragments_are_well_formed(block):
    if block.language in PYTHON:
        compile(block.text, str(block), "exec")
    else:
        done = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True)
        assert done.returncode == 0, f"{block}: {done.stderr}"
