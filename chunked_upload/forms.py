"""A form field whose file uploads in the background, by chunks, while the form is filled in.

The form submits only a reference to the upload (its handler id, and the
file's name); :meth:`ChunkedUploadField.clean` accepts it only when it names
a complete upload of the requesting user, and turns it into an
:class:`UploadReference`. In the view::

    result = form.cleaned_data["file"].finalize("/Invoices")  # DocumentId, VersionId

The form must know its user: mix in :class:`ChunkedUploadFormMixin` and pass
``user=request.user``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.urls import reverse

from .engine import finalize as finalizing
from .engine import handlers
from .engine.paths import DocumentPath, is_valid_name, split_folder_path
from .exceptions import UploadHandlerNotFound
from .models import UploadHandler

NAME_SUFFIX = "_name"


@dataclass(frozen=True)
class UploadReference:
    """A complete upload of ``user``, ready to become a document."""

    handler_id: uuid.UUID
    name: str
    user: AbstractBaseUser

    def finalize(self, folder: str = "/", name: str | None = None, *,
                 comment: str = "") -> finalizing.FinalizeResult:
        """Store the upload as ``folder/name`` (a new document, or a new version of one).

        Repeating it with the same destination answers the same ids, as the
        web service's finalize does.
        """
        path = DocumentPath(folders=split_folder_path(folder, "folder"), name=name or self.name)
        handler = UploadHandler.objects.select_related("ticket").get(pk=self.handler_id)
        if handler.ticket is None or handler.owner_id != self.user.pk:
            raise UploadHandlerNotFound
        return finalizing.finalize(handler.ticket, self.handler_id, path,
                                   finalizing.VersionOptions(comment=comment))


class ChunkedUploadWidget(forms.Widget):
    """A file picker that uploads at once and keeps only the handler id in the form."""

    template_name = "chunked_upload/widgets/upload.html"

    class Media:
        css = {"all": ["chunked_upload/uploader.css"]}
        js = [forms.Script("chunked_upload/widget.js", type="module")]

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        value = value or {}
        if isinstance(value, dict) and value.get("handler"):
            # Uploaded already (the form came back with another error): no new file needed.
            context["widget"]["attrs"].pop("required", None)
        context["widget"].update({
            "name_name": name + NAME_SUFFIX,
            "handler": value.get("handler", "") if isinstance(value, dict) else "",
            "filename": value.get("name", "") if isinstance(value, dict) else "",
            "endpoint": reverse("chunked_upload:soap"),
            "ticket_url": reverse("chunked_upload:session-ticket"),
        })
        return context

    def value_from_datadict(self, data, files, name: str) -> dict[str, str]:
        return {"handler": data.get(name, ""), "name": data.get(name + NAME_SUFFIX, "")}

    def value_omitted_from_data(self, data, files, name: str) -> bool:
        return name not in data

    def format_value(self, value: Any) -> Any:
        return value


class ChunkedUploadField(forms.Field):
    """A reference to a complete upload of the form's user; cleans to :class:`UploadReference`."""

    widget = ChunkedUploadWidget
    default_error_messages = {
        "invalid": "This is not an upload reference.",
        "not_found": "This upload does not exist, has expired, or is not yours.",
        "incomplete": "This upload is not complete yet.",
        "no_user": "This form does not know who is uploading.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user: AbstractBaseUser | None = None  # set by ChunkedUploadFormMixin

    def to_python(self, value: Any) -> dict[str, str] | None:
        if not isinstance(value, dict) or not value.get("handler"):
            return None
        return value

    def clean(self, value: Any) -> UploadReference | None:
        value = self.to_python(value)
        self.validate(value)  # "required"
        if value is None:
            return None
        if self.user is None or not self.user.is_authenticated:
            raise ValidationError(self.error_messages["no_user"], code="no_user")
        try:
            handler_id = uuid.UUID(value["handler"])
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        handler = UploadHandler.objects.filter(pk=handler_id, owner_id=self.user.pk).first()
        if handler is None or handlers.is_expired(handler) or handler.state in (
                UploadHandler.State.FINALIZED, UploadHandler.State.EXPIRED):
            raise ValidationError(self.error_messages["not_found"], code="not_found")
        if handler.state != UploadHandler.State.COMPLETE:
            raise ValidationError(self.error_messages["incomplete"], code="incomplete")
        name = value.get("name", "")
        return UploadReference(handler_id, name if is_valid_name(name) else "upload", self.user)


class ChunkedUploadFormMixin:
    """Give every :class:`ChunkedUploadField` of the form its user: ``Form(data, user=...)``."""

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, ChunkedUploadField):
                field.user = user
