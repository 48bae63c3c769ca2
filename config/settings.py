"""The one settings module: every knob is an environment variable (see README)."""

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from telemetry.sentry import init_sentry

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


_MAIL_BACKENDS = {
    "console": "console",
    "locmem": "locmem",
    "dummy": "dummy",
    "file": "filebased",
    "smtp": "smtp",
    "smtp+tls": "smtp",
    "smtp+ssl": "smtp",
    "smtps": "smtp",
}


def mailer(url: str) -> dict[str, Any]:
    """A MAILERS entry from EMAIL_URL: `console:`, `smtp+tls://user:pass@host:587`,
    `smtp+ssl://...`, `smtp://...`, `file:///dir`, `locmem:`."""
    parts = urlsplit(url)
    kind = _MAIL_BACKENDS.get(parts.scheme)
    if kind is None:
        raise ImproperlyConfigured(f"EMAIL_URL: unknown scheme {parts.scheme!r}")
    backend = f"django.core.mail.backends.{kind}.EmailBackend"
    if kind == "filebased":
        return {"BACKEND": backend, "OPTIONS": {"file_path": parts.path}}
    if kind != "smtp":
        return {"BACKEND": backend}
    tls, ssl = parts.scheme == "smtp+tls", parts.scheme in ("smtp+ssl", "smtps")
    query = dict(parse_qsl(parts.query))
    return {
        "BACKEND": backend,
        "OPTIONS": {
            "host": parts.hostname or "localhost",
            "port": parts.port or (587 if tls else 465 if ssl else 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": tls,
            "use_ssl": ssl,
            "timeout": int(query.get("timeout", 10)),
        },
    }


APP_ENV = env("APP_ENV", "development")
PRODUCTION = APP_ENV == "production"
VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var"))).resolve()

_DEV_SECRET = "dev-only-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = env("SECRET_KEY", _DEV_SECRET)
DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "*")
if PRODUCTION:
    if SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("Set a SECRET_KEY of 50+ characters in production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("Set ALLOWED_HOSTS in production.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the docs' Swagger UI and Redoc, served here
    "tenants",
    "stats",
    "accounts",
    "church",
    "members",
    "branches",
    "templates_app",
    "messaging",
    "billing",
    "privacy",
    "backups",
    "dashboard",
    "integrations",
]

# Apps whose tables live only in tenant databases; every other app lives only in
# the registry. The router and its system check rely on this list.
TENANT_APPS = ["members", "branches", "templates_app", "messaging", "stats"]

MIDDLEWARE = [
    "telemetry.middleware.RequestMiddleware",  # first: everything logs with its id
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.UnstorableQueryMiddleware",
    # Before the token check: a browsable-API session carries its church.
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.middleware.TokenMiddleware",
    "tenants.middleware.TenantMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

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

# --- Databases -------------------------------------------------------------

SQLITE_OPTIONS = {
    # secure_delete: what is deleted or overwritten (an erasure) is zeroed in
    # the file, not left in free pages for a copy of the file to carry.
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;"
    ),
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}

_registry = dj_database_url.parse(
    env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'registry.sqlite3'}")
)
if _registry["ENGINE"] == "django.db.backends.sqlite3":
    # System checks open the registry before any command runs: the directory
    # of the embedded default must exist on a fresh checkout.
    Path(_registry["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _registry["OPTIONS"] = {**SQLITE_OPTIONS, **_registry.get("OPTIONS", {})}
    # A file, not memory: Celery workers started by the tests must see it too.
    _registry["TEST"] = {"NAME": str(VAR_DIR / "test_registry.sqlite3")}
elif _registry["ENGINE"] == "django.db.backends.postgresql":
    # One small pool per process, shared by its threads (Django >= 5.1).
    _registry["CONN_MAX_AGE"] = 0
    _registry["OPTIONS"] = {
        "pool": {
            "min_size": 1,
            "max_size": env_int("REGISTRY_POOL_MAX_SIZE", 10),
            "num_workers": 1,
            "timeout": env_int("REGISTRY_POOL_TIMEOUT", 10),
        },
        **_registry.get("OPTIONS", {}),
    }
DATABASES = {"default": _registry}
DATABASE_ROUTERS = ["tenants.router.TenantRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Where tenant databases are created. Each entry is a server: a PostgreSQL URL
# without a database name, or sqlite:///<directory> for one file per tenant.
TENANT_DB_SERVERS = env_list("TENANT_DB_SERVERS", f"sqlite:///{VAR_DIR / 'tenants'}")
# Prefix of every database, role and template this deployment creates; the
# reconciler only ever drops names that carry it.
TENANT_DB_PREFIX = env("TENANT_DB_PREFIX", "ct_")
TENANT_SERVER_CAPACITY = env_int("TENANT_SERVER_CAPACITY", 5000)
TENANT_CONNECTION_LRU_SIZE = env_int("TENANT_CONNECTION_LRU_SIZE", 100)
TENANT_CONNECTION_IDLE_SECONDS = env_int("TENANT_CONNECTION_IDLE_SECONDS", 1800)
PROVISIONING_CONCURRENCY = env_int("PROVISIONING_CONCURRENCY", 4)
# Provisionings waiting for one of those slots, and for how long, before a
# registration is refused with 503 provisioning_failed (Retry-After).
PROVISIONING_QUEUE = env_int("PROVISIONING_QUEUE", 200)
PROVISIONING_WAIT_SECONDS = env_int("PROVISIONING_WAIT_SECONDS", 60)
# Databases made ahead per server, so that registering only claims one.
TENANT_READY_POOL = env_int("TENANT_READY_POOL", 5)
TENANT_PROVISIONING_GRACE_SECONDS = env_int("TENANT_PROVISIONING_GRACE_SECONDS", 600)
# A deleted church can be restored by an operator for this long before its
# database, role, backups and exports are removed.
TENANT_DELETE_GRACE_DAYS = env_int("TENANT_DELETE_GRACE_DAYS", 30)
# Key for tenant database passwords and MFA secrets kept in the registry.
CREDENTIALS_KEY = env("CREDENTIALS_KEY", "")
if PRODUCTION and not CREDENTIALS_KEY:
    raise ImproperlyConfigured("Set CREDENTIALS_KEY in production.")

# --- Cache -----------------------------------------------------------------

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "tenants.cache.BreakerRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_FUNCTION": "tenants.cache.tenant_key",
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "ct"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "tenants.cache.tenant_key",
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "ct"),
        }
    }
CACHE_BREAKER_THRESHOLD = env_int("CACHE_BREAKER_THRESHOLD", 3)
CACHE_BREAKER_COOLDOWN_SECONDS = float(env("CACHE_BREAKER_COOLDOWN_SECONDS", "5"))
TENANT_RECORD_CACHE_SECONDS = env_int("TENANT_RECORD_CACHE_SECONDS", 60)
TENANT_RECORD_LOCAL_SECONDS = float(env("TENANT_RECORD_LOCAL_SECONDS", "2"))

SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Celery ----------------------------------------------------------------

CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
# With Redis as broker, a task a killed worker held comes back after this.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)
}
# A request that queues a task while the broker is down gives up after one
# quick retry (Celery's default waits 0.6 s): the sweep sends what it left.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}
CELERY_BEAT_SCHEDULE = {
    "reconcile-tenants": {
        "task": "tenants.tasks.reconcile_tenants_task",
        "schedule": 300.0,
    },
    "refill-ready-pools": {
        "task": "tenants.tasks.refill_ready_pool_task",
        "schedule": 30.0,
    },
    "purge-revocations": {
        "task": "accounts.tasks.purge_revocations_task",
        "schedule": 300.0,
    },
    "sweep-due-messages": {
        "task": "messaging.tasks.sweep_due_task",
        "schedule": float(env("SMS_SWEEP_SECONDS", "30")),
    },
    "close-billing-periods": {
        "task": "billing.tasks.close_periods_task",
        "schedule": 600.0,
    },
    "report-metered-usage": {
        "task": "billing.tasks.report_usage_task",
        "schedule": 300.0,
    },
    "expire-church-exports": {
        "task": "privacy.tasks.expire_exports_task",
        "schedule": 3600.0,
    },
    "replay-kept-webhooks": {
        "task": "messaging.backlog.replay_kept_webhooks_task",
        "schedule": 30.0,
    },
    "nightly-backups": {
        "task": "backups.tasks.nightly_backups_task",
        "schedule": crontab(hour=3, minute=0),
    },
    "planning-center-syncs": {
        "task": "integrations.tasks.due_syncs_task",
        "schedule": 300.0,
    },
    "record-onboarding": {
        "task": "dashboard.tasks.record_onboarding_task",
        "schedule": crontab(hour=4, minute=30),
    },
}

# --- Auth, API -------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "accounts.hashers.TunedArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 2)
ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 19 * 1024)
ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 1)
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    # Tokens only: a browser session (the admin's) names no tenant.
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.tokens.TenantJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasTenant"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    # Text the database cannot store (NUL, lone surrogates) is a 400 here.
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "api.parsers.FormParser",
        "api.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "config.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Church messaging API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from this application, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status`: each choice set gets a name of its own.
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": "messaging.models.Message.Status",
        "ConversationStatusEnum": "messaging.models.Conversation.Status",
        "BroadcastStatusEnum": "messaging.models.Broadcast.Status",
        "TenantStatusEnum": "tenants.models.Tenant.Status",
        "MemberStatusEnum": "members.models.Member.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
    ],
}
SIMPLE_JWT: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=env_int("ACCESS_TOKEN_SECONDS", 15 * 60)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env_int("REFRESH_TOKEN_SECONDS", 7 * 24 * 3600)
    ),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env("JWT_SIGNING_KEY", SECRET_KEY),
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 2_621_440)

SMS_BACKEND = env("SMS_BACKEND", "console")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN")
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL")  # only to point at a stand-in
# Public base URL of this service, for provider callbacks and signature checks.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL")
SMS_RATE_PER_NUMBER = float(env("SMS_RATE_PER_NUMBER", "1"))  # messages per second
SMS_SEND_BATCH = env_int("SMS_SEND_BATCH", 100)
SMS_MAX_ATTEMPTS = env_int("SMS_MAX_ATTEMPTS", 5)
SMS_STALE_SENDING_SECONDS = env_int("SMS_STALE_SENDING_SECONDS", 120)

# --- Billing ---------------------------------------------------------------

# What a church may send: messaging asks this function (billing's), "" = no limit.
SENDING_ALLOWANCE = env("SENDING_ALLOWANCE", "billing.allowance.allowance_for")
BILLING_BACKEND = env("BILLING_BACKEND", "local")  # local | stripe
BILLING_GRACE_DAYS = env_int("BILLING_GRACE_DAYS", 7)  # past_due -> unpaid
BILLING_INVOICE_DUE_DAYS = env_int("BILLING_INVOICE_DUE_DAYS", 14)  # local invoices
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env("STRIPE_API_BASE")  # only to point the client at a stand-in

# Per account and per client address; see accounts/limits.py. "off" for benchmarks.
RATE_LIMITS = env("RATE_LIMITS", "")
MFA_TOKEN_SECONDS = env_int("MFA_TOKEN_SECONDS", 300)
# Behind N proxies the client is the N-th X-Forwarded-For entry from the right.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)

# --- Email, invitations, recovery ------------------------------------------

MAILERS = {"default": mailer(env("EMAIL_URL", "console:"))}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "churchtext <no-reply@localhost>")
# Where the links in emails point: the client app (token as ?token=...).
PUBLIC_APP_URL = env("PUBLIC_APP_URL", env("PUBLIC_BASE_URL", "http://127.0.0.1:8000"))
INVITATION_DAYS = env_int("INVITATION_DAYS", 7)
# The platform's own number for phone codes; a placeholder the console prints
# in development, none (phone linking unavailable) in production until set.
PLATFORM_SMS_FROM = env("PLATFORM_SMS_FROM", "" if PRODUCTION else "+15005550006")

# --- Operators' console ----------------------------------------------------

ADMIN_REQUIRE_MFA = env_bool("ADMIN_REQUIRE_MFA", PRODUCTION)
SESSION_COOKIE_AGE = env_int("ADMIN_SESSION_SECONDS", 8 * 3600)

# --- Misc ------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- Files: church exports and backups -----------------------------------------
# Any Django storage backend, e.g. "storages.backends.s3.S3Storage" (with
# django-storages installed) and its options as JSON; by default a directory.
LOCAL_STORAGE = "django.core.files.storage.FileSystemStorage"


def _storage(kind: str, directory: Path) -> dict[str, Any]:
    backend = env(f"{kind}_STORAGE", LOCAL_STORAGE)
    options = json.loads(env(f"{kind}_STORAGE_OPTIONS", "{}") or "{}")
    if backend == LOCAL_STORAGE:
        options.setdefault("location", str(directory))
    return {"BACKEND": backend, "OPTIONS": options}


STORAGES = {
    "default": {"BACKEND": LOCAL_STORAGE},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": _storage("EXPORT", VAR_DIR / "exports"),
    "backups": _storage("BACKUP", VAR_DIR / "backups"),
}
EXPORT_LINK_HOURS = env_int("EXPORT_LINK_HOURS", 24)
# Nightly backups kept this many days, plus the first of each month for a year.
BACKUP_RETENTION_DAYS = env_int("BACKUP_RETENTION_DAYS", 14)

LOG_FORMAT = env("LOG_FORMAT", "text")  # "json": one object per line
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "telemetry.logs.ContextFilter"}},
    "formatters": {
        "text": {
            "()": "telemetry.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "telemetry.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # One access line per request; runserver's own request lines repeat it.
        "django.server": {"level": "WARNING"},
        "churchtext.access": {"level": env("ACCESS_LOG_LEVEL", "INFO")},
    },
}

# Surveys: a member gets at most one every SURVEY_MIN_DAYS; one without a
# closing time takes scores for SURVEY_OPEN_DAYS.
SURVEY_MIN_DAYS = env_int("SURVEY_MIN_DAYS", 90)
SURVEY_OPEN_DAYS = env_int("SURVEY_OPEN_DAYS", 7)

# Drafting messages with a language model: none, or openai (any server that
# speaks OpenAI's chat completions).
AI_BACKEND = env("AI_BACKEND", "none")
if AI_BACKEND not in {"none", "openai"}:
    raise ImproperlyConfigured("AI_BACKEND must be none or openai.")
AI_API_BASE = env("AI_API_BASE", "https://api.openai.com/v1")
AI_API_KEY = env("AI_API_KEY")
AI_MODEL = env("AI_MODEL", "gpt-4o-mini")
AI_TIMEOUT_SECONDS = env_int("AI_TIMEOUT_SECONDS", 20)

# Planning Center People sync (integrations): the API's address (a stand-in in
# tests), how long a request may take, how long a run waits out its rate limit
# before it fails (under the lease), a worker's hold on a run, and when a failed
# run is tried again.
PLANNING_CENTER_API_BASE = env(
    "PLANNING_CENTER_API_BASE", "https://api.planningcenteronline.com"
)
PLANNING_CENTER_TIMEOUT_SECONDS = env_int("PLANNING_CENTER_TIMEOUT_SECONDS", 30)
PLANNING_CENTER_MAX_WAIT_SECONDS = env_int("PLANNING_CENTER_MAX_WAIT_SECONDS", 240)
PLANNING_CENTER_LEASE_SECONDS = env_int("PLANNING_CENTER_LEASE_SECONDS", 300)
PLANNING_CENTER_RETRY_MINUTES = env_int("PLANNING_CENTER_RETRY_MINUTES", 30)

# GET /metrics: with this bearer token, or from these addresses (neither: nobody).
METRICS_TOKEN = env("METRICS_TOKEN")
METRICS_ALLOW = set(env_list("METRICS_ALLOW"))

# Error tracking: the Sentry SDK reports unhandled errors, personal data scrubbed.
SENTRY_DSN = env("SENTRY_DSN")
if SENTRY_DSN:
    init_sentry(
        SENTRY_DSN,
        environment=env(
            "SENTRY_ENVIRONMENT", "production" if PRODUCTION else "development"
        ),
        release=env("SENTRY_RELEASE") or None,
    )
