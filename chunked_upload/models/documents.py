"""Folders, documents and their versions.

Names keep their case and are matched case-insensitively through
``name_key`` (the casefolded name), as on the vendor's Windows servers.
Version content lives in the configured document storage under a key the
server generates; names never reach a storage path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import models
from django.db.models import Q


def name_key(name: str) -> str:
    """The form under which a folder or document name is unique."""
    return name.casefold()


def _unique_per_parent(model: str, parent: str) -> list[models.UniqueConstraint]:
    # A NULL parent (the root) is not equal to itself in SQL, so the root
    # level needs a constraint of its own.
    return [
        models.UniqueConstraint(fields=[parent, "name_key"], name=f"{model}_unique_name"),
        models.UniqueConstraint(
            fields=["name_key"], condition=Q(**{f"{parent}__isnull": True}),
            name=f"{model}_unique_root_name",
        ),
    ]


class NamedEntry(models.Model):
    """A folder or document name, unique per parent as names match."""

    name = models.CharField(max_length=255)
    name_key = models.CharField(max_length=255, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name_key = name_key(self.name)
        super().save(*args, **kwargs)


class NamedQuerySet(models.QuerySet):
    """Folders or documents, found by name as names match."""

    def named(self, parent: Folder | None, name: str) -> NamedQuerySet:
        """The entry called ``name`` (in any case) in ``parent`` (None: the root)."""
        return self.filter(**{self.model.PARENT_FIELD: parent, "name_key": name_key(name)})


class FolderQuerySet(NamedQuerySet):
    def walk(self, names: Iterable[str],
             missing: Callable[[Folder | None, str], Folder] | None = None) -> Folder | None:
        """The folder at ``names`` below the root (None: the root itself).

        A folder not found is asked of ``missing(parent, name)``, which makes
        it or raises; without ``missing``, :class:`Folder.DoesNotExist` is raised.
        """
        folder = None
        for name in names:
            child = self.named(folder, name).first()
            if child is None:
                if missing is None:
                    raise self.model.DoesNotExist(name)
                child = missing(folder, name)
            folder = child
        return folder


class Folder(NamedEntry):
    """A folder; ``parent`` is None at the root."""

    PARENT_FIELD = "parent"

    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FolderQuerySet.as_manager()

    class Meta:
        ordering = ["name_key"]
        constraints = _unique_per_parent("folder", "parent")


class Document(NamedEntry):
    """A named document in a folder; its content is in its versions."""

    PARENT_FIELD = "folder"

    folder = models.ForeignKey(
        Folder, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="documents"
    )
    description = models.TextField(blank=True)
    keywords = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NamedQuerySet.as_manager()

    class Meta:
        ordering = ["name_key"]
        constraints = _unique_per_parent("document", "folder")


class DocumentVersion(models.Model):
    """One stored content of a document: numbered 1, 2, 3… per document."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    storage_name = models.CharField(max_length=500, editable=False)
    size = models.BigIntegerField()
    crc32 = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=255, blank=True)
    comment = models.TextField(blank=True)
    mp_version_major = models.PositiveSmallIntegerField(null=True, blank=True)
    mp_version_minor = models.PositiveSmallIntegerField(null=True, blank=True)
    mp_version_revision = models.PositiveSmallIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(help_text="The content's modification date.")

    class Meta:
        ordering = ["document", "number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="version_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.document} v{self.number}"
