from django.apps import AppConfig
from django.core import checks as django_checks


class ChunkedUploadConfig(AppConfig):
    """Registers the app's settings receiver and system checks."""

    name = "chunked_upload"
    verbose_name = "Chunked upload"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, conf  # noqa: F401 - conf connects the setting_changed receiver
        from .web import sessions  # noqa: F401 - connects the log-out receiver

        for check in checks.ALL_CHECKS:
            django_checks.register(check, checks.TAG)
        for check in checks.DEPLOY_CHECKS:
            django_checks.register(check, checks.TAG, deploy=True)
