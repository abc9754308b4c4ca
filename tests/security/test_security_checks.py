"""Issue 14, findings 11 and 12: the system checks that warn about an unsafe site.

W001/W002: documents or staging under a MEDIA_ROOT that MEDIA_URL serves
(readable by URL, past the permission policy); W003/W004 (``--deploy``):
AuthenticateUser not throttled.
"""

import pytest
from django.core.checks import run_checks
from django.core.checks.registry import registry
from django.core.exceptions import ImproperlyConfigured

from chunked_upload import checks


def ids(*, deploy: bool = False) -> list[str]:
    return [m.id for m in run_checks(tags=["chunked_upload"], include_deployment_checks=deploy)]


def test_media_root_that_is_not_served_is_fine(settings):
    settings.MEDIA_URL = ""
    assert ids() == []


def test_documents_and_staging_under_a_served_media_root_are_warned_about(settings, config):
    settings.MEDIA_URL = "/media/"
    config(STAGING_DIR=f"{settings.MEDIA_ROOT}/chunked_upload_staging")
    messages = run_checks(tags=["chunked_upload"])
    assert [m.id for m in messages] == ["chunked_upload.W001", "chunked_upload.W002"]
    assert [m.msg for m in messages] == [checks.Messages.DOCUMENTS_PUBLIC,
                                         checks.Messages.STAGING_PUBLIC]


def test_storage_outside_the_served_media_root_is_fine(settings, config, tmp_path):
    settings.MEDIA_URL = "/media/"
    settings.STORAGES = {**settings.STORAGES, "documents": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "documents")}}}
    config(DOCUMENT_STORAGE="documents", STAGING_DIR=tmp_path / "staging")
    assert ids() == []


def test_an_unthrottled_log_in_is_a_deploy_warning():
    # The test settings have no django-axes: exactly what a site without it gets.
    assert ids() == []
    assert ids(deploy=True) == ["chunked_upload.W003"]
    assert checks.check_login_throttling in registry.get_checks(include_deployment_checks=True)


@pytest.mark.parametrize("parameters, warned", [
    (["ip_address"], True),
    ([["username", "ip_address"]], True),
    (["username", "ip_address"], False),
    (["ip_address", "username", "user_agent"], False),
])
def test_axes_must_lock_out_user_names_and_addresses_each_alone(settings, parameters, warned):
    from chunked_upload.contrib import axes as integration  # axes: requirements/demo.txt

    settings.AXES_LOCKOUT_PARAMETERS = parameters
    assert bool(integration.missing_lockout_parameters()) == warned


def test_without_axes_the_integration_names_the_extra_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "axes", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "chunked_upload.contrib.axes", raising=False)
    with pytest.raises(ImproperlyConfigured, match=r"\[axes\]"):
        import chunked_upload.contrib.axes  # noqa: F401
