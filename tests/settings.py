"""Settings for the test suite.

The database comes from ``DB_BACKEND`` (``sqlite``, ``postgres`` or ``mysql``) and the
usual connection variables, defaulting to this project's local services. With
``REFERRAL_REWARDS_SWAPPED=1`` the member model is swapped for ``tests.swapped``'s.
"""

from __future__ import annotations

import os
import re
import tempfile

import django

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
ALLOWED_HOSTS = ["*"]

SWAPPED = os.environ.get("REFERRAL_REWARDS_SWAPPED", "") not in ("", "0", "false")
DB_BACKEND = os.environ.get("DB_BACKEND", "sqlite")
# Each tox env gets its own test database so envs may run side by side.
_SUFFIX = re.sub(r"[^a-z0-9]+", "_", os.environ.get("TOX_ENV_NAME", "local").lower())

if DB_BACKEND == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("POSTGRES_DB", "test"),
            "USER": os.environ.get("POSTGRES_USER", "postgres"),
            "PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
            "HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
            "PORT": os.environ.get("POSTGRES_PORT", "5432"),
            "TEST": {"NAME": f"test_rr_{_SUFFIX}"},
        }
    }
elif DB_BACKEND == "mysql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("MYSQL_DATABASE", "test"),
            "USER": os.environ.get("MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("MYSQL_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4", "isolation_level": "read committed"},
            "TEST": {"NAME": f"test_rr_{_SUFFIX}", "CHARSET": "utf8mb4"},
        }
    }
elif DB_BACKEND == "sqlite":
    _path = os.path.join(tempfile.gettempdir(), f"rr_{_SUFFIX}_{os.getpid()}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _path,
            # The configuration documented for hosts: writers queue instead of failing.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # A file, not ":memory:", so that threads in the concurrency tests share it.
            "TEST": {"NAME": _path.replace(".sqlite3", "_test.sqlite3")},
        }
    }
else:  # pragma: no cover - configuration error
    raise RuntimeError(f"Unknown DB_BACKEND {DB_BACKEND!r}; use sqlite, postgres or mysql.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "import_export",
    "django_referral_rewards",
]
try:  # the api extra: Django REST framework and drf-spectacular
    import drf_spectacular  # noqa: F401
    import rest_framework  # noqa: F401
except ImportError:  # pragma: no cover - an env without the extra
    HAS_API = False
else:
    HAS_API = True
    INSTALLED_APPS += ["rest_framework", "drf_spectacular"]
if SWAPPED:
    INSTALLED_APPS.append("tests.swapped")
    REFERRAL_REWARDS_MEMBER_MODEL = "swapped.CustomMember"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_referral_rewards.middleware.ReferralMiddleware",
]

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
            ]
        },
    }
]

STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Django 6.1 replaces EMAIL_BACKEND with MAILERS.
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
