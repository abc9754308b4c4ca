"""Settings of the demo site.

SQLite and local disk under ``$DATA_DIR`` (default ``./var``) with no
configuration; ``DATABASE_URL`` switches to PostgreSQL, and the
``DOCUMENTS_S3_*`` variables to S3-compatible document storage (and staging,
see ``STAGING_BACKEND`` and ``STAGING_S3_PART_SIZE`` below).

Safe by default (docs/security.md): ``DEBUG`` only with ``DJANGO_DEBUG=1``, a
random secret key made once per data directory unless ``DJANGO_SECRET_KEY``
is set, log-ins throttled by django-axes when it is installed, and with
``DJANGO_HTTPS=1`` the settings ``manage.py check --deploy`` asks for.
"""

import importlib.util
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key(data_dir: Path) -> str:
    """``DJANGO_SECRET_KEY``, else a random key made once for this data directory.

    Kept in ``<DATA_DIR>/secret_key`` (mode 0600), so sessions and password
    reset links survive restarts; the first process to create it wins, the
    others read it, and nobody ever replaces it.
    """
    if key := os.environ.get("DJANGO_SECRET_KEY"):
        return key
    path = data_dir / "secret_key"
    if not path.exists():
        from django.core.management.utils import get_random_secret_key

        draft = path.with_name(f".secret_key.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(get_random_secret_key())
        try:
            os.link(draft, path)  # atomic, and never over a key another process made
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key(DATA_DIR)
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

if os.environ.get("DJANGO_HTTPS") == "1":
    # Served over HTTPS by a proxy that terminates TLS and says so in
    # X-Forwarded-Proto (and strips that header from clients' requests).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("DJANGO_HSTS_INCLUDE_SUBDOMAINS", "1") == "1"
    SECURE_HSTS_PRELOAD = os.environ.get("DJANGO_HSTS_PRELOAD", "1") == "1"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "chunked_upload",
    "project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Log-in throttling (issue 14): django-axes counts the failures of every
# authenticate() call, the web service's AuthenticateUser and RenewTicket as
# well as the admin's log-in form, and locks out a user name and a client
# address, each on its own, after AXES_FAILURE_LIMIT failures.
if importlib.util.find_spec("axes"):
    INSTALLED_APPS.append("axes")
    MIDDLEWARE.append("axes.middleware.AxesMiddleware")
    AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
    AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 10))
    AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", 15)))
    AXES_RESET_ON_SUCCESS = True
    # Successful log-ins are logged by chunked_upload ("ticket … issued");
    # axes' access log would also open a session per web-service log-in.
    AXES_DISABLE_ACCESS_LOG = True
    # Behind a reverse proxy, REMOTE_ADDR is the proxy: every client would
    # share one lock-out. The proxy sets a header to the client's address
    # (nginx: proxy_set_header X-Real-IP $remote_addr), named here; see
    # docs/security.md ("The client's address behind a proxy").
    if header := os.environ.get("AXES_CLIENT_IP_HEADER"):
        AXES_IPWARE_META_PRECEDENCE_ORDER = (
            "HTTP_" + header.upper().replace("-", "_"), "REMOTE_ADDR")

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}", conn_max_age=600,
        # A persistent connection cut by a database restart is checked and
        # replaced before a request uses it, instead of failing that request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for the lock instead of failing, and take it up front.
    # synchronous=FULL syncs the WAL at every commit: an acknowledged chunk
    # survives a power cut, as its staged bytes (fsynced) do. NORMAL would
    # let a power cut undo the last commits (docs/guarantees.md).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    }

MEDIA_ROOT = DATA_DIR / "media"
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if os.environ.get("DOCUMENTS_S3_BUCKET"):
    STORAGES["documents"] = {
        "BACKEND": "chunked_upload.contrib.s3.RangedS3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["DOCUMENTS_S3_BUCKET"],
            "endpoint_url": os.environ.get("DOCUMENTS_S3_ENDPOINT_URL"),
            "access_key": os.environ.get("DOCUMENTS_S3_ACCESS_KEY"),
            "secret_key": os.environ.get("DOCUMENTS_S3_SECRET_KEY"),
            "region_name": os.environ.get("DOCUMENTS_S3_REGION", "us-east-1"),
            "addressing_style": "path",
            "file_overwrite": True,
        },
    }

CHUNKED_UPLOAD = {
    "STAGING_DIR": DATA_DIR / "staging",
    "DOCUMENT_STORAGE": "documents" if "documents" in STORAGES else "default",
}
if os.environ.get("CHUNKED_UPLOAD_HANDLER_SCOPE"):  # "user": resume after a new login
    CHUNKED_UPLOAD["HANDLER_SCOPE"] = os.environ["CHUNKED_UPLOAD_HANDLER_SCOPE"]
# With S3 documents, staging is on S3 too (in their bucket) unless
# STAGING_BACKEND says otherwise; STAGING_S3_* change its options.
if os.environ.get("STAGING_BACKEND"):
    CHUNKED_UPLOAD["STAGING_BACKEND"] = os.environ["STAGING_BACKEND"]
if os.environ.get("STAGING_S3_PART_SIZE"):
    CHUNKED_UPLOAD["STAGING_OPTIONS"] = {"part_size": int(os.environ["STAGING_S3_PART_SIZE"])}

# The upload endpoints stream their bodies; this only bounds other forms.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "chunked_upload": {"handlers": ["console"], "level": "INFO"},
        "axes": {"handlers": ["console"], "level": "WARNING"},
    },
}
