"""Settings of the demo site.

SQLite and local disk under ``$DATA_DIR`` (default ``./var``) with no
configuration; ``DATABASE_URL`` switches to PostgreSQL, and the
``DOCUMENTS_S3_*`` variables to S3-compatible document storage (and staging,
see ``STAGING_BACKEND`` and ``STAGING_S3_PART_SIZE`` below).
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

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
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
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
    "loggers": {"chunked_upload": {"handlers": ["console"], "level": "INFO"}},
}
