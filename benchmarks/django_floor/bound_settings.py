"""The demo site's settings, routed to the bound's one view (``bound.py``)."""

from .settings import *  # noqa: F403 - the same site, on purpose

ROOT_URLCONF = "benchmarks.django_floor.bound"
