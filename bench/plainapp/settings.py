"""Settings of the plain single-database baseline (see the package docstring)."""

import os

import dj_database_url

SECRET_KEY = os.environ.get(
    "SECRET_KEY", "dev-only-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
)  # the real app's default: its access tokens verify here
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "bench.plainapp",
]
# The real app's middleware minus tenants.middleware.TenantMiddleware.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench.plainapp.views"
APPEND_SLASH = False

# Like the real app's registry: Django's psycopg pool, one per process.
DATABASES = {"default": dj_database_url.parse(os.environ["PLAIN_DATABASE_URL"])}
DATABASES["default"] |= {
    "CONN_MAX_AGE": 0,
    "OPTIONS": {
        "pool": {"min_size": 1, "max_size": 4, "num_workers": 1, "timeout": 10}
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY", SECRET_KEY),
    "USER_ID_CLAIM": "user_id",
}
USE_TZ = True
TIME_ZONE = "UTC"
