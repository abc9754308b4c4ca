"""Who may create, version and read documents.

A site replaces the policy with ``CHUNKED_UPLOAD["PERMISSION_POLICY"]``, the
dotted path of a :class:`PermissionPolicy` subclass.

``is_staff`` grants nothing here: Django defines it as "may log into the
admin site", and the admin itself asks for ``view_document`` before showing
one. Reading another user's document takes that permission, model-wide or
per object (django-guardian and similar backends).

:func:`refuse_read` is how a refusal is answered: by default exactly like a
missing document, so that a stranger cannot probe which paths exist.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils.module_loading import import_string

from ..conf import get_config
from ..exceptions import AccessDenied, DocumentNotFound, ProtocolError
from ..models import Document, Folder


class PermissionPolicy:
    """Base policy: override the three questions."""

    def can_create(self, user: AbstractBaseUser, folder: Folder | None) -> bool:
        """May ``user`` create a document (and missing folders) in ``folder``?"""
        raise NotImplementedError

    def can_add_version(self, user: AbstractBaseUser, document: Document) -> bool:
        """May ``user`` store a new version of ``document``?"""
        raise NotImplementedError

    def can_read(self, user: AbstractBaseUser, document: Document) -> bool:
        """May ``user`` download ``document``?"""
        raise NotImplementedError


class DefaultPermissionPolicy(PermissionPolicy):
    """Any active user creates; owners and holders of ``view_document`` read;
    owners and holders of ``change_document`` add versions."""

    def can_create(self, user: AbstractBaseUser, folder: Folder | None) -> bool:
        return user.is_active

    def can_add_version(self, user: AbstractBaseUser, document: Document) -> bool:
        return user.is_active and (
            document.owner_id == user.pk or _has_perm(user, "change_document", document)
        )

    def can_read(self, user: AbstractBaseUser, document: Document) -> bool:
        return user.is_active and (
            document.owner_id == user.pk or _has_perm(user, "view_document", document)
        )


def _has_perm(user: AbstractBaseUser, codename: str, document: Document) -> bool:
    # Model-wide first, then per object for backends such as django-guardian.
    perm = f"chunked_upload.{codename}"
    return user.has_perm(perm) or user.has_perm(perm, document)


def refuse_read() -> ProtocolError:
    """The answer to a read the policy refuses.

    "Document not found." unless ``REVEAL_UNREADABLE_DOCUMENTS`` asks for the
    vendor's "Access denied.", which tells a stranger that the path exists.
    """
    return AccessDenied() if get_config()["REVEAL_UNREADABLE_DOCUMENTS"] else DocumentNotFound()


def get_policy() -> PermissionPolicy:
    """The configured policy, instantiated."""
    return import_string(get_config()["PERMISSION_POLICY"])()
