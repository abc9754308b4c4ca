"""The Django floor's WSGI application (``DJANGO_SETTINGS_MODULE`` set by the benchmark)."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
