"""Check a built wheel: its contents, then migrate and one upload on a minimal site.

Run with the Python of a fresh virtualenv that has only the wheel installed,
from outside the checkout (so that ``chunked_upload`` comes from the wheel):

    venv/bin/python /path/to/checkout/.ci/wheel_site.py dist/<the wheel>.whl
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def check_contents(wheel: Path) -> None:
    """Every template, static file and migration of the checkout, and py.typed."""
    names = set(zipfile.ZipFile(wheel).namelist())
    package = CHECKOUT / "chunked_upload"
    wanted = {"chunked_upload/py.typed"}
    for folder in ("templates", "static", "migrations"):
        wanted |= {str(path.relative_to(CHECKOUT)) for path in (package / folder).rglob("*")
                   if path.is_file() and "__pycache__" not in path.parts}
    missing = sorted(wanted - names)
    assert not missing, f"missing from {wheel.name}: {missing}"
    assert any(name.endswith("/licenses/LICENSE") for name in names), "no LICENSE in the wheel"
    print(f"{wheel.name}: {len(wanted)} templates, static files, migrations and py.typed present")


def serve_one_upload() -> None:
    import django
    from django.conf import settings

    data = Path(tempfile.mkdtemp(prefix="wheel-site-"))
    settings.configure(
        SECRET_KEY="wheel-check", ALLOWED_HOSTS=["testserver"], USE_TZ=True,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes",
                        "rest_framework", "chunked_upload"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                               "NAME": str(data / "db.sqlite3"),
                               "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30}}},
        ROOT_URLCONF=__name__, MEDIA_ROOT=str(data / "media"),
        CHUNKED_UPLOAD={"STAGING_DIR": str(data / "staging")},
    )
    django.setup()
    import chunked_upload

    assert not Path(chunked_upload.__file__).is_relative_to(CHECKOUT), chunked_upload.__file__
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import include, path

    urlpatterns.append(path("", include("chunked_upload.urls")))

    call_command("migrate", verbosity=0)
    get_user_model().objects.create_user("wheel", password="wheel-pass")
    client = Client()

    def call(method: str, **params):
        from xml.etree import ElementTree as ET

        answer = ET.fromstring(client.post(f"/srv.asmx/{method}", params).content)
        assert answer.get("success") == "true", (method, answer.attrib)
        return answer

    ticket = call("AuthenticateUser", UID="wheel", PWD="wheel-pass").get("ticket")
    handler = call("CreateUploadHandler", authenticationTicket=ticket).get("UploadHandler")
    chunk = b"a wheel, installed and serving\n" * 1000
    from io import BytesIO

    part = BytesIO(chunk)
    part.name = "chunk"
    answer = call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=handler,
                  chunkHEXCRC=f"{zlib.crc32(chunk):X}", lastChunk="true", fileChunk=part)
    assert answer.get("offset") == str(len(chunk)), answer.attrib
    done = call("UploadDocumentWithHandler", authenticationTicket=ticket,
                path="/wheel/check.txt", uploadHandler=handler)
    print(f"migrated, uploaded {len(chunk)} bytes: document {done.get('DocumentId')}, "
          f"installed at {Path(chunked_upload.__file__).parent}")


urlpatterns: list = []

if __name__ == "__main__":
    check_contents(Path(sys.argv[1]))
    serve_one_upload()
