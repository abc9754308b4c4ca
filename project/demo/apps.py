from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo site's own bits: the ``rundemo`` command."""

    name = "project.demo"
    label = "demo"
