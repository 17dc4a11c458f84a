"""Settings for the Bargaining Demand Tracker, read from the environment (README.md lists every variable).

DJANGO_DEBUG off is production and needs DJANGO_SECRET_KEY. Everything else has a local default:
SQLite, tasks in-process, emails written to var/mail/.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# A local .env (written by `make demo` / `make test`, never committed or copied into the image)
# lets `manage.py` run on a developer's machine without exports; real variables always win.
load_dotenv(BASE_DIR / ".env", override=False)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = os.environ.get("DJANGO_DEBUG") == "1"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is not 1.")
    SECRET_KEY = "insecure-local-development-key-never-used-in-production"  # noqa: S105 (DEBUG only)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_celery_beat",
    "simple_history",
    "axes",
    "demands",
    "bargaining",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one: every response under /api/, errors and redirects too, says it varies per caller.
    "demands.api.middleware.VaryOnCallerMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # ETag (a hash of the body) and Last-Modified answered with 304 on a reload: after every header is set.
    "django.middleware.http.ConditionalGetMiddleware",
    # Oversized bodies get 413 before any view reads them.
    "config.middleware.RefuseHostileRequestsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language from the URL: /es/... is Spanish; every other path (the API and admin too) is English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: turns a locked-out sign-in (django-axes) into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "config.context_processors.language_links",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Anonymous public pages are served from the cache for this long at most (demands/pagecache.py); a write
# through the services replaces them at once. 0 turns that cache off.
PUBLIC_PAGE_CACHE_SECONDS = max(int(os.environ.get("PUBLIC_PAGE_CACHE_SECONDS") or "600"), 0)

# How many proxies in front of the app append to X-Forwarded-For: 0 (development, nothing in front) ignores the
# header, which a client can forge; compose.yaml runs behind one. DRF's throttles and the lockouts both read it.
TRUSTED_PROXIES = int(os.environ.get("DJANGO_TRUSTED_PROXIES", "0"))

# Sign-in lockouts (django-axes) on /accounts/login/, /admin/login/ and POST /api/v1/auth/token/: after
# AXES_FAILURE_LIMIT failures for one account, or from one address, that account or address is refused until
# AXES_COOLOFF_TIME has passed or an admin deletes the attempt (Admin > Axes > Access attempts). Counters
# live in the database, so every process shares them.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("DJANGO_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("DJANGO_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "config.clients.client_ip"
AXES_LOCKOUT_CALLABLE = "config.clients.lockout_response"
AXES_RESET_ON_SUCCESS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# English at today's URLs, Spanish under /es/ (config/urls.py). Pages and digests show times in Chicago time.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]  # the .po is committed; `make compilemessages` builds the .mo
TIME_ZONE = "America/Chicago"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email: SMTP when EMAIL_HOST is set, otherwise files in var/mail for local use.
# EMAIL_BACKEND may name any backend, e.g. anymail.backends.postmark.EmailBackend.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS") == "1"
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Bargaining Team <bargaining@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = {key.removeprefix("ANYMAIL_"): value for key, value in os.environ.items() if key.startswith("ANYMAIL_")}

# Celery: REDIS_URL set means Redis is the broker; unset means tasks run in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"  # a host named: kombu warns about an empty one
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# `celery -A config beat` reads the schedule from the database: admins edit it in the admin.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Publishing: "1" holds every new status change (and what it carries: proposal, signature, vote) until a
# second team member publishes it, the two-person rule always.
PUBLISH_REVIEW = os.environ.get("PUBLISH_REVIEW", "0") == "1"

# Digests. Batches are the unit of work per task; the sweeper re-enqueues work the broker lost.
# SENDING_STUCK_AFTER must stay above the task time limit so a slow live batch is never sent twice.
DIGEST_BATCH_SIZE = int(os.environ.get("DIGEST_BATCH_SIZE", "200"))
DIGEST_MAX_ATTEMPTS = int(os.environ.get("DIGEST_MAX_ATTEMPTS", "5"))
DIGEST_RETRY_BACKOFF = float(os.environ.get("DIGEST_RETRY_BACKOFF", "60"))
DIGEST_RETRY_BACKOFF_MAX = float(os.environ.get("DIGEST_RETRY_BACKOFF_MAX", "600"))
DIGEST_PENDING_STUCK_AFTER = float(os.environ.get("DIGEST_PENDING_STUCK_AFTER", "900"))
DIGEST_SENDING_STUCK_AFTER = float(os.environ.get("DIGEST_SENDING_STUCK_AFTER", "900"))
# "0": per-message outcome commits skip the WAL flush wait (PostgreSQL synchronous_commit=off), see
# bargaining/digests/sending.py; "1" waits for it, halving throughput on slow disks.
DIGEST_SYNCHRONOUS_COMMIT = os.environ.get("DIGEST_SYNCHRONOUS_COMMIT", "0") == "1"
# A provider's limits, honoured by every worker together through the cache (Redis with REDIS_URL), see
# bargaining/digests/limits.py: messages per second, and per local day of DIGEST_TIME_ZONE. Unset or empty:
# no limit. Rows left when the day's cap is reached stay pending, attempts unspent, for the sweeper.
DIGEST_MAX_RATE = max(int(os.environ.get("DIGEST_MAX_RATE") or 0), 0) or None  # 0 or below: unlimited
DIGEST_DAILY_CAP = int(os.environ["DIGEST_DAILY_CAP"]) if os.environ.get("DIGEST_DAILY_CAP") else None
# The calendar digests are cut on: a daily digest reports one local day, a weekly one a local week
# from Monday, between local midnights (bargaining/digests/periods.py). Independent of TIME_ZONE.
DIGEST_TIME_ZONE = os.environ.get("DIGEST_TIME_ZONE", "America/Chicago")
# Preference and browser-digest links in emails expire after this many days (the next digest brings
# fresh ones); unsubscribe links never do (RFC 8058).
MEMBER_LINK_MAX_AGE_DAYS = int(os.environ.get("MEMBER_LINK_MAX_AGE_DAYS", "90"))

# Content-Security-Policy on every response (django-csp): this origin only, no inline script or style, so
# injected markup can neither run nor restyle a page. Swagger UI comes from drf-spectacular-sidecar, not a CDN.
# The one relaxation: the pages that show a digest's email HTML (its styles must be inline for mail clients)
# allow inline styles, never scripts (bargaining/views.py `digest`, the admin's digest preview).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
CSP_EMAIL_HTML = {"style-src": ["'unsafe-inline'"]}  # added to the policy by `csp_update` on those two views
# Redoc at /api/redoc/ (demands/api/views.py `RedocView`), on that view only. Its styling library writes an empty
# <style> and fills it through the CSSOM (which no policy governs), and its bundle inserts one fixed stylesheet,
# perfect-scrollbar's: those two contents are allowed by their hashes, nothing else inline. Its search runs in a
# worker it starts from a blob: URL. The hashes change only with drf-spectacular-sidecar's Redoc, and
# tests/browser/test_content_policy.py reports a violation if they no longer match. Scripts stay 'self'.
CSP_REDOC = {
    "style-src": [
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # an empty <style>
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar's CSS
    ],
    "worker-src": ["blob:"],
}

REST_FRAMEWORK = {
    # Token first: an anonymous write then gets 401 with `WWW-Authenticate: Token`, not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Reading is scoped by the selectors; any write is for the bargaining team unless a view says otherwise.
    "DEFAULT_PERMISSION_CLASSES": ["demands.api.permissions.IsTeamOrReadOnly"],
    # JSON only, through the parser that turns every hostile body into a 400 (demands/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["demands.api.parsers.SafeJSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "demands.api.pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DEFAULT_THROTTLE_RATES": {"anon": os.environ.get("API_ANON_RATE", "120/minute"), "token": "10/minute"},
    "EXCEPTION_HANDLER": "demands.api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bargaining Demand Tracker API",
    "DESCRIPTION": (
        "Contract demands, their status through bargaining, evidence and the Board resolution.\n\n"
        "**Who sees what.** Anyone reads public items; member accounts also read `members` items; the "
        "bargaining team and admins read everything and write demands, evidence, resolutions, sessions and "
        "categories "
        "(deleting is for the admin, not the API). Fields marked *Bargaining team only* "
        "are absent from everyone else's responses. `members/` is for the team and admins only.\n\n"
        "**Auth.** Session, or `Authorization: Token <key>` with a token from `POST /api/v1/auth/token/`.\n\n"
        "**Changing a demand.** `GET` gives an `ETag` (the `version`). `PUT`, `PATCH`, `transition/` and "
        "`evidence/` take it back as `If-Match` (or `version` in the body): stale gets 412 and changes nothing, "
        "none gets 428. "
        "The status changes only through `transition/`.\n\n"
        "**English and Spanish.** The API is bilingual by fields, not by a language switch: beside each "
        "member-facing text (`title`, `summary`, `target`, a status change's or a transition's `note`, a "
        "proposal's `summary`, a resolution's `title` and `summary`, a clause's `text`) its Spanish version "
        "`<field>_es` is read and written, with the English field's limits; empty means there is none (the "
        "`/es/` pages then show the English, marked as English). A demand carries `category_name_es` too.\n\n"
        "**Errors.** Every 4xx is `{detail, code, errors}`: `errors` maps fields to messages. "
        "Times are ISO 8601 in UTC."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files from the drf-spectacular-sidecar package, served by the app: /api/docs/ needs no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # One enum per choice set, named after it, however many fields use it.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "demands.models.Status",
        "VisibilityEnum": "demands.models.Visibility",
        "PriorityTierEnum": "demands.models.PriorityTier",
        "EvidenceKindEnum": "demands.models.Evidence.Kind",
        "SessionKindEnum": "demands.models.BargainingSession.Kind",
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
