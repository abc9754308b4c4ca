"""The demo site's settings, routed to the Django floor's one view."""

from project.settings import *  # noqa: F403 - the same site, on purpose

ROOT_URLCONF = "benchmarks.django_floor.urls"
WSGI_APPLICATION = "benchmarks.django_floor.wsgi.application"
