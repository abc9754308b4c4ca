"""factory-boy factories for the app's models."""

import uuid
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from chunked_upload.models import (
    Document,
    DocumentVersion,
    DownloadHandler,
    Folder,
    Ticket,
    UploadHandler,
)
from chunked_upload.models.tickets import hash_ticket, user_auth_hash

PASSWORD = "s3cret-pass"


class UserFactory(factory.django.DjangoModelFactory):
    """A user of whatever AUTH_USER_MODEL is; ``username`` goes to its USERNAME_FIELD."""

    class Meta:
        model = get_user_model()
        django_get_or_create = (get_user_model().USERNAME_FIELD,)
        skip_postgeneration_save = True

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        kwargs[get_user_model().USERNAME_FIELD] = kwargs.pop("username")
        return kwargs

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = "Ada"
    last_name = "Lovelace"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(self, create, extracted, **kwargs):
        if create:
            self.save()


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket; the GUID it was made from is on the instance as ``key``."""

    class Meta:
        model = Ticket

    user = factory.SubFactory(UserFactory)
    last_used_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    auth_hash = factory.LazyAttribute(lambda t: user_auth_hash(t.user))

    @classmethod
    def _create(cls, model_class, *args, key=None, **kwargs):
        key = key or uuid.uuid4()
        ticket = super()._create(model_class, *args, key_hash=hash_ticket(key), **kwargs)
        ticket.key = key
        return ticket


class UploadHandlerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UploadHandler

    ticket = factory.SubFactory(TicketFactory)
    owner = factory.LazyAttribute(lambda h: h.ticket.user)
    chunk_size = 1 << 20
    last_activity_at = factory.LazyFunction(timezone.now)


class FolderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Folder

    name = factory.Sequence(lambda n: f"Folder {n}")
    owner = factory.SubFactory(UserFactory)


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    name = factory.Sequence(lambda n: f"doc{n}.txt")
    owner = factory.SubFactory(UserFactory)


class DocumentVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DocumentVersion

    document = factory.SubFactory(DocumentFactory)
    number = factory.Sequence(lambda n: n + 1)
    storage_name = factory.Sequence(lambda n: f"versions/v{n}")
    size = 0
    crc32 = 0
    sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    created_by = factory.LazyAttribute(lambda v: v.document.owner)
    modified_at = factory.LazyFunction(timezone.now)


class DownloadHandlerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DownloadHandler

    ticket = factory.SubFactory(TicketFactory)
    owner = factory.LazyAttribute(lambda h: h.ticket.user)
    version = factory.SubFactory(DocumentVersionFactory)
    chunk_size = 1 << 20
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
