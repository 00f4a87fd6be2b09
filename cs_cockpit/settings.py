"""Settings, read from the environment (12-factor). See README.md -> Configuration.

Every default runs without a server: SQLite, a filesystem Celery broker, console email and
SMS. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY and DEBUG=0.
"""

import os
import re
import sys
import zoneinfo
from datetime import time
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CS_VAR_DIR", BASE_DIR / "var"))

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in TRUE_WORDS:
        return True
    if raw.strip().lower() in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


TESTING = "pytest" in sys.modules or os.environ.get("CS_TESTING") == "1"
DEBUG = env_bool("DEBUG", False)

INSECURE_DEFAULT_SECRET_KEY = "django-insecure-cs-cockpit-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
# A missing or default key is allowed for management commands that serve nothing (migrate,
# makemigrations, check); every process that serves or sends — the web app, Celery worker and
# beat, `manage.py tick` — refuses to start with it when DEBUG is off (core/startup.py).
SECRET_KEY_UNSAFE = not SECRET_KEY or SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY
if SECRET_KEY_UNSAFE:
    SECRET_KEY = INSECURE_DEFAULT_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG or TESTING else "")
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
# The product name tenant owners know (signup, wizard, billing, every message to them). The
# staff side always says "CS Cockpit"; owners never see that name.
BRAND_NAME = os.environ.get("BRAND_NAME", "CloudGreet").strip() or "CloudGreet"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", SITE_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "anymail",
    "core",
    "tenants",
    "messaging",
    "onboarding",
    "health",
    "billing",
    "knowledge",
    "alerts",
    "playbooks",
    "qa",
    "lifecycle",
    "cs_cockpit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into a clear 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cs_cockpit.urls"
WSGI_APPLICATION = "cs_cockpit.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cs_cockpit.context_processors.cockpit",
                "playbooks.context_processors.in_app_messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's connection pool replaces persistent connections (CONN_MAX_AGE must be 0).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if env_bool("DATABASE_POOL", not TESTING):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": 10}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the demo's web, worker and beat processes share one file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        # IMMEDIATE: a transaction takes the write lock when it begins, so a read-then-write
        # transaction waits (busy timeout) instead of failing "database is locked" halfway.
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Parallel test workers (pytest-xdist) share one Redis: each keeps its own keys.
            "KEY_PREFIX": os.environ.get("PYTEST_XDIST_WORKER", ""),
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if TESTING:
        CELERY_BROKER_URL = "memory://"
        CELERY_BROKER_TRANSPORT_OPTIONS = {}
    else:
        # Serverless broker: kombu's filesystem transport, messages are files in var/broker.
        broker_dir = VAR_DIR / "broker"
        CELERY_BROKER_URL = "filesystem://"
        CELERY_BROKER_TRANSPORT_OPTIONS = {
            "data_folder_in": str(broker_dir),
            "data_folder_out": str(broker_dir),
            "processed_folder": str(broker_dir / "processed"),
            # kombu keeps its exchange tables in ./control by default: inside var/, never in
            # the checkout.
            "control_folder": str(broker_dir / "control"),
            "store_processed": False,
        }

# --- Auth ---
# django-axes rate-limits logins: after 5 failures for one username from one IP, that pair
# waits an hour (AXES_* variables override). Axes must be the first backend.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "1"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "after-login"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- I18N / time ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (vendored; nothing from a CDN) -------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- Email and SMS ------------------------------------------------------------------------
# Django 6.1 configures mail through MAILERS; the environment keeps the familiar names
# (EMAIL_BACKEND, EMAIL_FILE_PATH, EMAIL_HOST, ...) and they are mapped here.
EMAIL_BACKEND_PATH = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if TESTING and "EMAIL_BACKEND" not in os.environ:
    EMAIL_BACKEND_PATH = "django.core.mail.backends.locmem.EmailBackend"
_mail_options: dict[str, object] = {}
# cs_cockpit.mail.ReadableFileBackend: Django's file backend in a form a person reads (the demo's).
if EMAIL_BACKEND_PATH.endswith("filebased.EmailBackend") or EMAIL_BACKEND_PATH == "cs_cockpit.mail.ReadableFileBackend":
    _mail_options["file_path"] = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
elif EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend"):
    _mail_options.update(
        host=os.environ.get("EMAIL_HOST", "localhost"),
        port=int(os.environ.get("EMAIL_PORT", "587")),
        username=os.environ.get("EMAIL_HOST_USER", ""),
        password=os.environ.get("EMAIL_HOST_PASSWORD", ""),
        use_tls=env_bool("EMAIL_USE_TLS", True),
        timeout=10,
    )
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_PATH, "OPTIONS": _mail_options}}
# An email service provider through django-anymail: EMAIL_BACKEND=anymail.backends.postmark.EmailBackend
# (or sendgrid, brevo, ...) and its keys as ANYMAIL_<NAME> (ANYMAIL_POSTMARK_SERVER_TOKEN=...).
# ANYMAIL_WEBHOOK_SECRET ("user:password") turns on /webhooks/email/<esp>/tracking/: bounces,
# complaints and unsubscribes the provider reports become suppressions.
ANYMAIL = {key.removeprefix("ANYMAIL_"): value for key, value in os.environ.items() if key.startswith("ANYMAIL_")}
ANYMAIL.setdefault("WEBHOOK_SECRET", "")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"{BRAND_NAME} <success@localhost>")
SMS_BACKEND = os.environ.get("SMS_BACKEND", "locmem" if TESTING else "console")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms.jsonl"))
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")

# Touchpoints (playbooks): outgoing webhooks go only to listed hosts, never to private
# addresses; at most TOUCHPOINT_DAILY_LIMIT non-transactional messages per tenant per day.
PLAYBOOK_WEBHOOK_HOSTS = env_list("PLAYBOOK_WEBHOOK_HOSTS", "hooks.slack.com")
PLAYBOOK_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("PLAYBOOK_WEBHOOK_TIMEOUT_SECONDS", "5"))
TOUCHPOINT_DAILY_LIMIT = int(os.environ.get("TOUCHPOINT_DAILY_LIMIT", "2"))


def _quiet_hours(raw: str) -> tuple[time, time] | None:
    if raw.strip().lower() in {"off", "none"}:
        return None  # texts at any hour (e.g. an emergency service's customers)
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ImproperlyConfigured(f"SMS_QUIET_HOURS is HH:MM-HH:MM (e.g. 21:00-08:00), not “{raw}”.") from None
    if start == end:
        raise ImproperlyConfigured("SMS_QUIET_HOURS must not start and end at the same time.")
    return start, end


# No SMS in the tenant's local night, transactional or not (CONTRACTS.md: default 21:00–08:00;
# "off" for none).
SMS_QUIET_HOURS = _quiet_hours(os.environ.get("SMS_QUIET_HOURS", "21:00-08:00"))


# Alerts (escalation rules): the response SLA per severity (P3: business days, Monday to
# Friday in the CS team's time zone), each person's daily budget of pushed alert emails (P1
# always pushes; the rest wait for the digest), the hour of the daily digest (Mondays also the
# CS leads' weekly one), and an optional Slack-compatible webhook per role queue.
def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


CS_TEAM_TIMEZONE = os.environ.get("CS_TEAM_TIMEZONE", "UTC")
try:
    zoneinfo.ZoneInfo(CS_TEAM_TIMEZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"CS_TEAM_TIMEZONE={CS_TEAM_TIMEZONE!r} is not an IANA time zone.") from None
ALERT_SLA_P1_MINUTES = _env_int("ALERT_SLA_P1_MINUTES", 30, 1)
ALERT_SLA_P2_MINUTES = _env_int("ALERT_SLA_P2_MINUTES", 120, 1)
ALERT_SLA_P3_BUSINESS_DAYS = _env_int("ALERT_SLA_P3_BUSINESS_DAYS", 1, 1)
ALERT_DAILY_PUSH_BUDGET = _env_int("ALERT_DAILY_PUSH_BUDGET", 10)
ALERT_DIGEST_HOUR = _env_int("ALERT_DIGEST_HOUR", 8)
if ALERT_DIGEST_HOUR > 23:
    raise ImproperlyConfigured(f"ALERT_DIGEST_HOUR={ALERT_DIGEST_HOUR} must be an hour from 0 to 23.")
ALERT_WEBHOOK_URLS = {
    route: url
    for route in ("csm", "cs_lead", "billing_ops")
    if (url := os.environ.get(f"ALERT_WEBHOOK_{route.upper()}", "").strip())
}

# --- Stripe -------------------------------------------------------------------------------
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_PRICE_STARTER = os.environ.get("STRIPE_PRICE_STARTER", "")
STRIPE_PRICE_PROFESSIONAL = os.environ.get("STRIPE_PRICE_PROFESSIONAL", "")
STRIPE_PRICE_BUSINESS = os.environ.get("STRIPE_PRICE_BUSINESS", "")
# The Stripe API version every call and every webhook payload is read as: pinned here, once.
STRIPE_API_VERSION = "2026-10-28.endive"
STRIPE_HTTP_CLIENT = os.environ.get("STRIPE_HTTP_CLIENT", "")  # a stripe.HTTPClient subclass (tests)
BILLING_TRIAL_DAYS = _env_int("BILLING_TRIAL_DAYS", 14, minimum=0)
# What counts as plan usage (a handled call is a CloudGreet “conversation”) and how many per
# 30 days each plan includes (seed 004: Starter 1,000, Professional 5,000; Business: no limit
# given, so none unless PLAN_LIMIT_BUSINESS sets one). 0 means unlimited.
BILLING_USAGE_EVENT = os.environ.get("BILLING_USAGE_EVENT", "call.handled")

# The health model's key-event consistency: the event that means the product did its job for
# the tenant (CloudGreet: a call handled), and per segment where it differs:
# HEALTH_KEY_EVENTS_BY_SEGMENT="dental=appointment.booked,hvac=call.handled".
HEALTH_KEY_EVENT = os.environ.get("HEALTH_KEY_EVENT", "").strip() or BILLING_USAGE_EVENT
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


def _key_events_by_segment(raw: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        segment, _, name = part.partition("=")
        if not segment.strip() or not _EVENT_NAME.match(name.strip()):
            raise ImproperlyConfigured(
                f"HEALTH_KEY_EVENTS_BY_SEGMENT: “{part}” is not segment=event.name (e.g. dental=appointment.booked)."
            )
        found[segment.strip()] = name.strip()
    return found


HEALTH_KEY_EVENTS_BY_SEGMENT = _key_events_by_segment(os.environ.get("HEALTH_KEY_EVENTS_BY_SEGMENT", ""))
BILLING_PLAN_LIMITS = {
    plan: (_env_int(f"PLAN_LIMIT_{plan.upper()}", default, minimum=0) or None)
    for plan, default in (("starter", 1000), ("professional", 5000), ("business", 0))
}


# Support SLAs per plan (seed 001's tiers: Standard < 4 h first response and < 24 h to
# resolve, Priority < 2 h / 12 h, Dedicated < 1 h / 6 h; Starter, Professional and Business
# here), in hours: SUPPORT_SLA_STARTER="4/24" and so on.
def _sla_hours(plan: str, default: str) -> tuple[int, int]:
    raw = os.environ.get(f"SUPPORT_SLA_{plan.upper()}", default)
    try:
        first, resolve = (int(part) for part in raw.split("/"))
    except ValueError:
        raise ImproperlyConfigured(
            f"SUPPORT_SLA_{plan.upper()}={raw!r}: write first-response/resolution hours, e.g. 4/24."
        ) from None
    if not 0 < first <= resolve <= 24 * 30:
        raise ImproperlyConfigured(f"SUPPORT_SLA_{plan.upper()}={raw!r}: 0 < first response ≤ resolution ≤ 720 hours.")
    return first, resolve


SUPPORT_SLA_HOURS = {
    plan: _sla_hours(plan, default)
    for plan, default in (("starter", "4/24"), ("professional", "2/12"), ("business", "1/6"))
}
# NPS survey links close this long after they were sent; a promoter's thank-you page asks
# for a public review at REVIEW_ASK_URL (G2, Capterra, Google…) when it is set.
SURVEY_LINK_MAX_AGE_DAYS = _env_int("SURVEY_LINK_MAX_AGE_DAYS", 30, minimum=1)
REVIEW_ASK_URL = os.environ.get("REVIEW_ASK_URL", "")

# The expansion pipeline (lifecycle/expansion.py): a closed opportunity's trigger rests this
# many days before it may open another for the tenant; "healthy on the plan" needs this score
# for this many days on the current plan (seed 001: upsell at 30/60/90 days with high health).
EXPANSION_COOLDOWN_DAYS = _env_int("EXPANSION_COOLDOWN_DAYS", 90, minimum=1)
EXPANSION_HEALTHY_SCORE = _env_int("EXPANSION_HEALTHY_SCORE", 80, minimum=1)
EXPANSION_TENURE_DAYS = _env_int("EXPANSION_TENURE_DAYS", 30, minimum=1)
# Portal links in dunning messages stay valid this long (an old email's link still works).
BILLING_PORTAL_LINK_MAX_AGE_DAYS = _env_int("BILLING_PORTAL_LINK_MAX_AGE_DAYS", 90, minimum=1)

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.api_auth.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "tenants.api_errors.json_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CS Cockpit API",
    "DESCRIPTION": "Tenants, health, onboarding, touchpoints and alerts. Authenticate with "
    "`Authorization: Bearer <key>` (create one with `manage.py create_api_key`).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # "status" names many choice sets (alerts, touchpoints, the system status): each its own enum.
    "ENUM_NAME_OVERRIDES": {"SystemStatusEnum": "cs_cockpit.api.STATUSES"},
    # Swagger UI is served from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Cockpit ------------------------------------------------------------------------------
# The tick runs every minute; /readyz fails when the last one finished longer ago than this.
TICK_MAX_AGE_SECONDS = int(os.environ.get("TICK_MAX_AGE_SECONDS", "300"))

# --- Security (production: DEBUG off) -----------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
