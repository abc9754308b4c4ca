from django.apps import AppConfig


class ChunkedUploadConfig(AppConfig):
    """Registers the app's settings receiver."""

    name = "chunked_upload"
    verbose_name = "Chunked upload"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import conf  # noqa: F401 - connects the setting_changed receiver
