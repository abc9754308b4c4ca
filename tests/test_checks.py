"""System checks: each fires on the misconfiguration it names, and only then."""

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command


def ids() -> list[str]:
    return [message.id for message in run_checks(tags=["chunked_upload"])]


def test_the_default_configuration_passes():
    assert ids() == []


@pytest.mark.parametrize("sizes", [
    {"MIN_CHUNK_SIZE": 2 << 20, "DEFAULT_CHUNK_SIZE": 1 << 20},
    {"DEFAULT_CHUNK_SIZE": 64 << 20},
    {"MIN_CHUNK_SIZE": 0},
    {"MAX_CHUNK_SIZE": 4 << 30, "MAX_REQUEST_SIZE": 8 << 30},
    {"DEFAULT_CHUNK_SIZE": "1MB"},
    {"MAX_CHUNK_SIZE": "32M"},
])
def test_e001_inconsistent_chunk_sizes(config, sizes):
    config(**sizes)
    assert ids() == ["chunked_upload.E001"]


def test_e002_staging_directory_not_writable(config, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config(STAGING_DIR=blocker / "staging")
    assert ids() == ["chunked_upload.E002"]


def test_a_staging_directory_that_does_not_exist_yet_is_fine(config, tmp_path):
    config(STAGING_DIR=tmp_path / "new" / "staging")  # created on first upload
    assert ids() == []


def test_e003_document_storage_alias_missing(config):
    config(DOCUMENT_STORAGE="documents")
    assert ids() == ["chunked_upload.E003"]


def test_e004_request_limit_too_small_for_the_largest_chunk_in_base64(config):
    config(MAX_CHUNK_SIZE=8 << 20, MAX_REQUEST_SIZE=9 << 20)  # Base64 needs 10.7 MiB
    assert ids() == ["chunked_upload.E004"]


def test_the_derived_request_limit_always_fits(config):
    config(MAX_CHUNK_SIZE=64 << 20)
    assert ids() == []


def test_e005_staging_backend_cannot_be_imported(config):
    config(STAGING_BACKEND="chunked_upload.staging.nowhere.Missing")
    assert ids() == ["chunked_upload.E005"]


def test_checks_run_with_manage_py_check(config):
    config(DOCUMENT_STORAGE="nowhere")
    with pytest.raises(CommandError, match=r"chunked_upload\.E003"):
        call_command("check")
