"""Staging: where the bytes of open upload handlers live until finalize."""

from __future__ import annotations

from django.utils.module_loading import import_string

from ..conf import get_config
from .base import StagedFile, StagingBackend, StagingError

__all__ = ["StagedFile", "StagingBackend", "StagingError", "get_staging"]


def get_staging() -> StagingBackend:
    """The configured staging backend (built from the current settings)."""
    return import_string(get_config()["STAGING_BACKEND"])()
