"""Settings of the example project: a small shop that runs django-referral-rewards.

For local demonstration only (``python demo.py``): the secret key is public and
``DEBUG`` is on.
"""

import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "example-project-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "import_export",
    "rest_framework",  # the REST API (the api extra) at /api/rewards/
    "drf_spectacular",
    "django_referral_rewards",
    "example_project.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # ?ref=CODE on any URL records a visit and remembers the code (session + cookie).
    "django_referral_rewards.middleware.ReferralMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # EXAMPLE_PROJECT_DB lets a test seed a throw-away database.
        "NAME": os.environ.get("EXAMPLE_PROJECT_DB") or BASE_DIR / "db.sqlite3",
        # The configuration documented for hosts on SQLite: writers take the lock when
        # their transaction starts and wait (up to 20 s) instead of failing.
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []  # demo logins are admin/admin etc.

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "shop:login"
LOGIN_REDIRECT_URL = "referral_rewards:portal"
LOGOUT_REDIRECT_URL = "home"
# Django 6.1 replaces EMAIL_BACKEND with MAILERS.
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# django-referral-rewards: a followed share link (/r/CODE/) lands on the sign-up page,
# where the remembered code is filled in.
REFERRAL_REWARDS_LANDING_URL = "shop:signup"
# Links built outside a request, such as the link to the fulfilment queue in the e-mail a
# technician gets when a redemption is assigned to them, need the site's address: set
# REFERRAL_REWARDS_SITE_URL = "https://shop.example" in production. The demo runs on
# whatever port it is given, so it leaves it unset (pages use the request's address; the
# e-mail, printed on the console here, goes out without the link).
