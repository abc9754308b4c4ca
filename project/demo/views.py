"""The demo site's pages: the uploader for a logged-in user, a log-in form for others."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from chunked_upload.documents import document_storage
from chunked_upload.engine.permissions import get_policy
from chunked_upload.forms import ChunkedUploadField, ChunkedUploadFormMixin
from chunked_upload.models import Document, DocumentVersion, Folder


def home(request: HttpRequest) -> HttpResponse:
    """``/``: the uploader, a folder chooser and the user's documents; or a log-in form."""
    if not request.user.is_authenticated:
        form = AuthenticationForm(request)
        return render(request, "demo/welcome.html", {"form": form})
    return render(request, "demo/home.html", {
        "folders": folder_paths(),
        **documents_context(request),
    })


@login_required(login_url="/")
@require_GET
def documents(request: HttpRequest) -> HttpResponse:
    """The documents table alone, which the home page reloads after each upload."""
    return render(request, "demo/documents.html", documents_context(request))


def documents_context(request: HttpRequest) -> dict:
    versions = DocumentVersion.objects.order_by("-number")
    docs = (Document.objects.filter(owner=request.user).select_related("folder")
            .prefetch_related(Prefetch("versions", queryset=versions)).order_by("-updated_at"))
    paths = folder_paths()
    return {"documents": [(doc, paths.get(doc.folder_id, "/")) for doc in docs[:200]]}


def folder_paths() -> dict[int | None, str]:
    """Every folder's path, by id (a demo has few folders)."""
    folders = {f.pk: f for f in Folder.objects.only("pk", "name", "parent_id")}

    def path(folder: Folder) -> str:
        names = []
        while folder is not None:
            names.append(folder.name)
            folder = folders.get(folder.parent_id)
        return "/" + "/".join(reversed(names))

    return {pk: path(folder) for pk, folder in folders.items()}


@login_required(login_url="/")
def download(request: HttpRequest, version_id: int) -> FileResponse:
    """One version's content, if the permission policy lets this user read it."""
    version = get_object_or_404(DocumentVersion.objects.select_related("document"), pk=version_id)
    if not get_policy().can_read(request.user, version.document):
        raise Http404("No such version.")
    try:
        content = document_storage().open(version.storage_name, "rb")
    except FileNotFoundError:
        raise Http404("The version's content is missing from storage.") from None
    return FileResponse(content, as_attachment=True, filename=version.document.name,
                        content_type=version.content_type or "application/octet-stream")


class DescribedDocumentForm(ChunkedUploadFormMixin, forms.ModelForm):
    """A document with a description: the file uploads while the rest is typed."""

    file = ChunkedUploadField(label="File")
    folder = forms.CharField(initial="/Described", help_text="Where the document goes.")

    field_order = ["file", "description", "keywords", "folder"]

    class Meta:
        model = Document
        fields = ["description", "keywords"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3}),
                   "keywords": forms.TextInput()}

    def save(self, commit: bool = True) -> Document:
        reference = self.cleaned_data["file"]
        result = reference.finalize(self.cleaned_data["folder"])  # the documented one-liner
        document = Document.objects.get(pk=result.document_id)
        document.description = self.cleaned_data["description"]
        document.keywords = self.cleaned_data["keywords"]
        if commit:
            document.save(update_fields=["description", "keywords", "updated_at"])
        return document


@login_required(login_url="/")
def describe(request: HttpRequest) -> HttpResponse:
    """A model form with a ChunkedUploadField: upload, describe, save."""
    form = DescribedDocumentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        document = form.save()
        return redirect(reverse("demo:home") + f"?saved={document.pk}")
    return render(request, "demo/describe.html", {"form": form})
