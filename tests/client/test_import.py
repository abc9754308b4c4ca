"""The client stands alone: importing it (and running its command) never imports Django."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.integrity.database import REPO

BLOCK_DJANGO = textwrap.dedent("""
    import sys

    class NoDjango:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("django", "rest_framework"):
                raise ImportError(f"{name} is blocked: the client must not need it")

    sys.meta_path.insert(0, NoDjango())
""")


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK_DJANGO + textwrap.dedent(code)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_library_imports_without_django():
    done = run("""
        import chunked_upload.client
        from chunked_upload.client import cli, download, progress, protocol, session, state
        from chunked_upload.client import display, reader, upload
        print(sorted(name for name in sys.modules if name.startswith(("django", "rest_"))))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_command_runs_without_django():
    done = run("""
        from chunked_upload.client.cli import main
        sys.exit(main(["status", "--state-dir", "/nonexistent", "--json"]))
    """)
    assert done.returncode == 0, done.stderr
    assert '"uploads": []' in done.stdout


def test_a_missing_http_library_names_the_extra():
    done = run("""
        class NoRequests:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "requests":
                    raise ImportError("no requests here")
        sys.meta_path.insert(0, NoRequests())
        try:
            import chunked_upload.client
        except ImportError as error:
            print(error)
    """)
    assert "pip install 'django-srvasmx-chunked-upload[client]'" in done.stdout
