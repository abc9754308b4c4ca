"""ChunkedUploadField in a model form: only a complete upload of the form's user is accepted."""

import pytest
from django import forms

from chunked_upload.forms import ChunkedUploadField, ChunkedUploadFormMixin, UploadReference
from chunked_upload.models import Document, DocumentVersion, UploadHandler
from tests.factories import TicketFactory, UserFactory
from tests.handlers import make_handler

pytestmark = pytest.mark.django_db


class InvoiceForm(ChunkedUploadFormMixin, forms.ModelForm):
    """A site's model form: a document's description, and its file uploaded by chunks."""

    file = ChunkedUploadField()

    class Meta:
        model = Document
        fields = ["description"]

    def save(self, commit=True):
        result = self.cleaned_data["file"].finalize("/Invoices")  # the one-liner
        document = Document.objects.get(pk=result.document_id)
        document.description = self.cleaned_data["description"]
        document.save()
        return document


@pytest.fixture
def owner():
    return UserFactory()


def complete(owner, data=b"%PDF-1.7 invoice"):
    return make_handler(data, last=True, ticket=TicketFactory(user=owner))


def form(owner, handler_id, name="march.pdf", **data):
    return InvoiceForm({"description": "March", "file": str(handler_id), "file_name": name,
                        **data}, user=owner)


def test_a_complete_upload_of_the_user_becomes_a_document(owner):
    handler = complete(owner)
    bound = form(owner, handler.pk)
    assert bound.is_valid(), bound.errors
    reference = bound.cleaned_data["file"]
    assert reference == UploadReference(handler.pk, "march.pdf", owner)
    document = bound.save()
    assert (document.name, document.folder.name, document.description) == (
        "march.pdf", "Invoices", "March")
    version = DocumentVersion.objects.get(document=document)
    assert version.size == len(b"%PDF-1.7 invoice")
    handler.refresh_from_db()
    assert handler.state == UploadHandler.State.FINALIZED


def test_finalizing_twice_answers_the_same_document(owner):
    bound = form(owner, complete(owner).pk)
    assert bound.is_valid()
    first = bound.cleaned_data["file"].finalize("/Invoices")
    assert bound.cleaned_data["file"].finalize("/Invoices") == first


def test_another_users_upload_is_refused(owner):
    theirs = complete(UserFactory())
    bound = form(owner, theirs.pk)
    assert not bound.is_valid()
    assert bound.errors["file"] == ["This upload does not exist, has expired, or is not yours."]


def test_an_incomplete_upload_is_refused(owner):
    bound = form(owner, make_handler(b"half", ticket=TicketFactory(user=owner)).pk)
    assert bound.errors["file"] == ["This upload is not complete yet."]


def test_a_finalized_upload_cannot_be_used_again(owner):
    handler = complete(owner)
    first = form(owner, handler.pk)
    assert first.is_valid()
    first.save()
    assert form(owner, handler.pk).errors["file"] == [
        "This upload does not exist, has expired, or is not yours."]


@pytest.mark.parametrize("reference", ["not-a-guid", "1; DROP TABLE", "0" * 40])
def test_a_malformed_reference_is_refused(owner, reference):
    assert form(owner, reference).errors["file"] == ["This is not an upload reference."]


def test_the_field_is_required(owner):
    bound = InvoiceForm({"description": "x"}, user=owner)
    assert bound.errors["file"] == ["This field is required."]


def test_an_unusable_file_name_falls_back(owner):
    bound = form(owner, complete(owner).pk, name="../../etc")
    assert bound.is_valid()
    assert bound.cleaned_data["file"].name == "upload"


def test_an_anonymous_user_is_refused(owner):
    from django.contrib.auth.models import AnonymousUser

    handler = complete(owner)
    bound = InvoiceForm({"description": "x", "file": str(handler.pk)}, user=AnonymousUser())
    assert bound.errors["file"] == ["This form does not know who is uploading."]


def test_the_widget_renders_a_picker_and_hidden_reference_only(owner):
    html = str(InvoiceForm(user=owner)["file"])
    assert 'type="file"' in html and 'id="id_file"' in html
    assert 'type="hidden" class="cu-reference" name="file"' in html
    assert 'name="file_name"' in html
    assert 'data-ticket-url="/chunked-upload/session-ticket"' in html
    media = str(InvoiceForm(user=owner).media)
    assert '<script src="/static/chunked_upload/widget.js" type="module">' in media


def test_a_refused_form_keeps_the_reference(owner):
    handler = complete(owner)
    bound = InvoiceForm({"file": str(handler.pk), "file_name": "a.pdf"}, user=owner)
    bound.fields["description"].required = True
    assert not bound.is_valid()
    assert f'value="{handler.pk}"' in str(bound["file"])  # no need to upload again
    assert "required" not in str(bound["file"])
