"""Documents on a real S3-compatible server (SeaweedFS), through django-storages."""

import hashlib
import os
import uuid

import pytest

from chunked_upload.models import DocumentVersion

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def s3_documents(s3_server, settings, config):
    bucket = f"docs-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    settings.STORAGES = {**settings.STORAGES, "documents": {
        "BACKEND": "chunked_upload.contrib.s3.RangedS3Storage",
        "OPTIONS": {"bucket_name": bucket, "endpoint_url": s3_server.endpoint_url,
                    "access_key": s3_server.access_key, "secret_key": s3_server.secret_key,
                    "region_name": "us-east-1", "addressing_style": "path",
                    "file_overwrite": True},
    }}
    config(DOCUMENT_STORAGE="documents")
    return s3_server.client(), bucket


def test_versions_are_stored_in_s3_and_read_back_by_range(srv, ticket, s3_documents):
    client, bucket = s3_documents
    data = os.urandom(3 * 262144 + 17)
    srv.upload(ticket, data, 262144, path="/S3/data.bin")
    version = DocumentVersion.objects.get()
    stored = client.get_object(Bucket=bucket, Key=version.storage_name)["Body"].read()
    assert stored == data
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    assert srv.download(ticket, "/S3/data.bin", chunk_size=262144) == data


def test_a_second_version_and_an_empty_one(srv, ticket, s3_documents):
    client, bucket = s3_documents
    srv.upload(ticket, b"first", 5, path="/S3/v.txt")
    srv.upload(ticket, b"", 5, path="/S3/v.txt")
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == set(DocumentVersion.objects.values_list("storage_name", flat=True))
    assert srv.download(ticket, "/S3/v.txt") == b""


def test_plain_s3storage_works_too(srv, ticket, s3_documents, settings):
    plain = {**settings.STORAGES["documents"], "BACKEND": "storages.backends.s3.S3Storage"}
    settings.STORAGES = {**settings.STORAGES, "documents": plain}
    srv.upload(ticket, b"plain", 2, path="/S3/plain.txt")
    assert srv.download(ticket, "/S3/plain.txt") == b"plain"


@pytest.mark.parametrize("module", ["chunked_upload.contrib.s3", "chunked_upload.staging.s3"])
def test_without_django_storages_the_import_names_the_extra_to_install(monkeypatch, module):
    import importlib
    import sys

    from chunked_upload.exceptions import ChunkedUploadError, MissingExtra

    monkeypatch.setitem(sys.modules, "storages.backends.s3", None)  # as if not installed
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(MissingExtra, match=r"pip install 'django-srvasmx-chunked-upload\[s3\]'"
                       ) as raised:
        importlib.import_module(module)
    # Caught as the app's root, as an import error, or as a configuration error.
    assert isinstance(raised.value, ChunkedUploadError | ImportError)
    assert raised.value.extra == "s3"
