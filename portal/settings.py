"""Settings come from the environment, then from a local .env file; the embedded defaults run a laptop demo with no
servers.

Production sets at least DEBUG=0, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and CELERY_BROKER_URL (see README).
"""

import base64
import hashlib
import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
# `make run` writes .env once (DEBUG=1, a generated SECRET_KEY...) so every manage.py command started later, in any
# shell, runs with the same settings. Real environment variables win over it; PORTAL_ENV_FILE names another file, or
# none when empty (the test settings do that: the suite must not depend on a developer's .env).
ENV_FILE = os.environ.get("PORTAL_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    load_dotenv(ENV_FILE, override=False)
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable (50+ random characters); for local "
            "development, `make run` writes a .env with DEBUG=1 and a generated key."
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - only ever used with DEBUG on

# Secrets at rest (channel secrets, data-store URLs): comma-separated Fernet keys; the first encrypts, all decrypt, so
# a new key goes first and the old one stays until `manage.py rotate_encryption_keys` has re-encrypted every row.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set. Set it to a Fernet key (`python -c 'from cryptography.fernet import "
            "Fernet; print(Fernet.generate_key().decode())'`); with DEBUG=1 one is derived from SECRET_KEY."
        )
    # Development only: tied to SECRET_KEY, so a demo database stays readable as long as its .env does.
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(b"field-encryption:" + SECRET_KEY.encode()).digest()).decode()
    ]
for _number, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: key {_number} is not a Fernet key (32 url-safe base64-encoded bytes)."
        ) from None

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
# On Kubernetes the kubelet's probes and Prometheus address a pod by its IP (POD_IP, from the downward API).
if os.environ.get("POD_IP"):
    ALLOWED_HOSTS.append(os.environ["POD_IP"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "auditlog",
    "portal.accounts",
    "portal.core",
    "portal.notifications",
    "portal.cluster",
    "incidents",
    "oncall",
    "maintenance",
    "operations",
    "contacts",
]

MIDDLEWARE = [
    "portal.core.metrics.RequestMetricsMiddleware",
    "portal.core.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.core.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.accounts.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.core.audit.AuditMiddleware",
]

# `make bench` only: serves the floor view and counts each request's queries (portal/core/bench.py).
BENCH_MODE = env_bool("PORTAL_BENCH", False)
if BENCH_MODE:
    MIDDLEWARE.insert(0, "portal.core.bench.QueryCountMiddleware")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

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
                "portal.accounts.context_processors.roles",
            ],
        },
    },
]

# Fields render through Django's Jinja2 form templates (and portal/core/jinja2/), the rest as TemplatesSetting.
FORM_RENDERER = "portal.core.forms.FormRenderer"

# Database: SQLite under var/ by default; DATABASE_URL (postgres://...) in production and CI.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL and immediate transactions avoid "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# The portal names its PostgreSQL connections, so terminating a target's idle connections never ends its own.
DATABASE_APPLICATION_NAME = "broxiva-ops-portal"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = DATABASE_APPLICATION_NAME
    # Every model-backed <select> reads its choices with QuerySet.iterator(), on PostgreSQL a server-side cursor held
    # over autocommit: DECLARE ... WITH HOLD, FETCH and CLOSE, three round trips for a handful of rows (0.6 ms each
    # measured on the incidents page's filters). Nothing of ours streams a large result through iterator(): the audit
    # chain's migration reads the log in key-ordered batches instead.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    # Server-side binding lets psycopg prepare a statement once its connection has run it DATABASE_PREPARE_THRESHOLD
    # times, so PostgreSQL plans it once per connection, not per request: the incident page's read of the incident
    # with its severity, people, review and alert group took 0.57 ms to plan and run, 0.17 ms prepared. Behind a
    # pooler in transaction mode (PgBouncer's default) set it to 0: a prepared statement lives in one session.
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
        int(os.environ.get("DATABASE_PREPARE_THRESHOLD", "5")) or None
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ATOMIC_REQUESTS = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security: strict unless DEBUG; each can be relaxed from the environment (e.g. TLS ends at a proxy).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", False) else None
# Probes and Prometheus reach the pod directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/health", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_AGE = 12 * 60 * 60
# Every page and every htmx refresh (the incident page, its table, the dashboard) reads the session: from the cache,
# the database only when the cache lost it. Writes go to both.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
X_FRAME_OPTIONS = "DENY"

# Email: SMTP; a local catcher (or the console) in development.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Broxiva Ops Portal <ops-portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Kubernetes: a kubeconfig file (and optionally one of its contexts); unset means "not configured".
KUBECONFIG = os.environ.get("KUBECONFIG", "")
KUBE_CONTEXT = os.environ.get("KUBE_CONTEXT", "") or None
KUBE_REQUEST_TIMEOUT = float(os.environ.get("KUBE_REQUEST_TIMEOUT", "5"))

# Celery: the default broker is a folder under var/, so a real worker runs tasks without any server.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "portal.core.tasks.worker_heartbeat", "schedule": 30.0},
    "sweep-deliveries": {"task": "portal.notifications.tasks.sweep_deliveries", "schedule": 60.0},
    "sweep-incident-timers": {"task": "incidents.tasks.sweep_incident_timers", "schedule": 60.0},
    "sweep-escalations": {"task": "incidents.tasks.sweep_escalations", "schedule": 30.0},
    "sweep-maintenance": {"task": "maintenance.tasks.sweep_maintenance", "schedule": 60.0},
    "sweep-slos": {"task": "operations.tasks.sweep_slos", "schedule": 60.0},
    "generate-checklists": {"task": "operations.tasks.generate_checklists", "schedule": 300.0},
    "sweep-oncall": {"task": "oncall.tasks.sweep_oncall", "schedule": 60.0},
    "sweep-action-runs": {"task": "portal.cluster.tasks.sweep_action_runs", "schedule": 30.0},
}
# Business hours (seeds: 09:00-18:00) and holidays, for response targets such as P4's "next business day".
BUSINESS_HOURS_TIMEZONE = os.environ.get("BUSINESS_HOURS_TIMEZONE", "UTC")
HOLIDAY_COUNTRY = os.environ.get("HOLIDAY_COUNTRY", "US")
# Which Sunday of the month the seeds' monthly windows (major upgrades, database maintenance) fall on: 1-4, or -1
# for the last. Read when the windows are seeded; afterwards each window's RRULE is data an Admin may edit.
MAINTENANCE_MONTHLY_SUNDAY = int(os.environ.get("MAINTENANCE_MONTHLY_SUNDAY", "1"))
if MAINTENANCE_MONTHLY_SUNDAY not in {1, 2, 3, 4, -1}:
    raise ImproperlyConfigured(f"MAINTENANCE_MONTHLY_SUNDAY must be 1, 2, 3, 4 or -1, got {MAINTENANCE_MONTHLY_SUNDAY}")

# Operations: the zone of checklist periods (daily, weekly from Monday, monthly, quarterly) and of backup days.
OPERATIONS_TIMEZONE = os.environ.get("OPERATIONS_TIMEZONE", "UTC")
# SLIs: the Prometheus server SLOs query unless they name their own, and the step between the values kept.
PROMETHEUS_URL = os.environ.get("PROMETHEUS_URL", "").rstrip("/")
PROMETHEUS_TIMEOUT = float(os.environ.get("PROMETHEUS_TIMEOUT", "10"))
SLI_STEP_SECONDS = int(os.environ.get("SLI_STEP_SECONDS", "60"))

# /metrics and /api/health/detailed answer a bearer METRICS_TOKEN, or a direct client inside METRICS_ALLOWED_NETWORKS
# (none by default: the kubelet's and Prometheus' networks are the cluster's to name). A worker started with
# CELERY_METRICS_PORT serves its own metrics there (README "Metrics").
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(item, strict=False) for item in env_list("METRICS_ALLOWED_NETWORKS")
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {exc}") from None
CELERY_METRICS_PORT = int(os.environ.get("CELERY_METRICS_PORT", "0"))

# Notifications: retries with exponential backoff and jitter; the sweeper re-sends what the broker lost.
NOTIFICATION_MAX_ATTEMPTS = int(os.environ.get("NOTIFICATION_MAX_ATTEMPTS", "6"))
NOTIFICATION_RETRY_BASE_SECONDS = float(os.environ.get("NOTIFICATION_RETRY_BASE_SECONDS", "30"))
NOTIFICATION_RETRY_MAX_SECONDS = 30 * 60
NOTIFICATION_HTTP_TIMEOUT = float(os.environ.get("NOTIFICATION_HTTP_TIMEOUT", "10"))  # seconds per webhook call
NOTIFICATION_STUCK_AFTER_SECONDS = int(os.environ.get("NOTIFICATION_STUCK_AFTER_SECONDS", "120"))  # lost by the broker
# Emails of one notification per task (one SMTP connection): small enough that worker processes share a fan-out.
NOTIFICATION_EMAIL_BATCH_SIZE = int(os.environ.get("NOTIFICATION_EMAIL_BATCH_SIZE", "50"))
NOTIFICATION_SENDING_TIMEOUT_SECONDS = 600  # well past the delivery task's hard time limit
# Cluster actions: how long each wait may last before the sweeper ends it, and when a silent worker's run is
# marked abandoned (several missed heartbeats).
ACTION_CONFIRM_WINDOW_SECONDS = int(os.environ.get("ACTION_CONFIRM_WINDOW_SECONDS", "900"))
ACTION_APPROVAL_WINDOW_SECONDS = int(os.environ.get("ACTION_APPROVAL_WINDOW_SECONDS", "3600"))
ACTION_START_DEADLINE_SECONDS = int(os.environ.get("ACTION_START_DEADLINE_SECONDS", "1800"))
ACTION_STUCK_AFTER_SECONDS = int(os.environ.get("ACTION_STUCK_AFTER_SECONDS", "120"))
ACTION_HEARTBEAT_SECONDS = float(os.environ.get("ACTION_HEARTBEAT_SECONDS", "15"))
ACTION_STALE_AFTER_SECONDS = int(os.environ.get("ACTION_STALE_AFTER_SECONDS", "120"))
# Looks (pods, events, logs, top, data-store statistics): the worker's deadline for one, and how much log text it
# keeps; a look no worker picked up within the start deadline is ended by the sweeper.
LOOK_DEADLINE_SECONDS = float(os.environ.get("LOOK_DEADLINE_SECONDS", "20"))
LOOK_MAX_LOG_BYTES = int(os.environ.get("LOOK_MAX_LOG_BYTES", str(512 * 1024)))
LOOK_START_DEADLINE_SECONDS = int(os.environ.get("LOOK_START_DEADLINE_SECONDS", "120"))
# A worker whose last heartbeat is older than this is reported as not answering.
WORKER_HEARTBEAT_STALE_AFTER = 90

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.accounts.permissions.IsViewer"],
    "DEFAULT_PAGINATION_CLASS": "portal.core.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # DRF's parsers, refusing NUL characters, JSON nested too deep and JSON bodies over DATA_UPLOAD_MAX_MEMORY_SIZE.
    "DEFAULT_PARSER_CLASSES": [
        "portal.core.api.parsers.JSONParser",
        "portal.core.api.parsers.FormParser",
        "portal.core.api.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "portal.core.api.schema.AutoSchema",
    "DEFAULT_METADATA_CLASS": "portal.core.api.metadata.InputMetadata",
    "EXCEPTION_HANDLER": "portal.core.api.exceptions.exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Broxiva Ops Portal API",
    "DESCRIPTION": "Incidents, on-call, maintenance, freezes and audited cluster actions. "
    "Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["portal.accounts.permissions.IsViewer"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets whose field names ("status", "kind") other models use with other choices.
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "IncidentFlagEnum": "incidents.models.Incident.Flag",
        "ActionItemStatusEnum": "incidents.models.ActionItem.Status",
        "ReviewStatusEnum": "incidents.models.PostIncidentReview.Status",
        "NotificationSeverityEnum": "portal.notifications.models.Severity",
        "DeliveryStatusEnum": "portal.notifications.models.Delivery.Status",
        "AlertStatusEnum": "incidents.models.Alert.Status",
        "IntegrationKindEnum": "incidents.models.Integration.Kind",
        "EnvironmentEnum": "portal.core.models.Environment",
        "FreezeLevelEnum": "maintenance.models.FreezeLevel",
        "MaintenanceWindowKindEnum": "maintenance.models.MaintenanceWindow.Kind",
        "OccurrenceStatusEnum": "maintenance.models.MaintenanceOccurrence.Status",
        "FreezeRuleKindEnum": "maintenance.models.FreezeRule.Kind",
        "FreezeExceptionStatusEnum": "maintenance.models.FreezeException.Status",
        "ChecklistPhaseEnum": "maintenance.models.ChecklistItem.Phase",
        "DeploymentStatusEnum": "operations.models.Deployment.Status",
        "ChecklistKindEnum": "operations.models.ChecklistTemplate.Kind",
        "QuickActionKindEnum": "operations.quick_actions.ActionKind",
        "ProcedureRunKindEnum": "operations.models.ProcedureRun.Kind",
        "ProcedureRunStatusEnum": "operations.models.ProcedureRun.Status",
        "ProcedureStepEffectEnum": "operations.models.ProcedureStep.Effect",
        "OncallLayerEnum": "oncall.models.Layer",
        "SwapStatusEnum": "oncall.models.Swap.Status",
        "HandoffSideEnum": "oncall.models.HandoffItem.Side",
        "ActionRunStatusEnum": "portal.cluster.models.ActionRun.Status",
        "ActionKindEnum": "portal.cluster.models.ActionKind",
        "TargetKindEnum": "portal.cluster.models.Target.Kind",
        "ApprovalDecisionEnum": "portal.cluster.models.ActionApproval.Decision",
        "LookKindEnum": "portal.cluster.models.LookKind",
    },
}

# Behind a proxy you configure, the first X-Forwarded-For entry is the client; otherwise REMOTE_ADDR is.
AUDIT_TRUST_X_FORWARDED_FOR = env_bool("AUDIT_TRUST_X_FORWARDED_FOR", False)
AUDITLOG_INCLUDE_ALL_MODELS = False
# Raw saves (loaddata, test-database restores) are not user changes; logging them would also create content types
# ahead of the restore.
AUDITLOG_DISABLE_ON_RAW_SAVE = True
# Changes as auditlog's strings (the chain's hashes cover them); code writing entries itself follows this too.
AUDITLOG_STORE_JSON_CHANGES = False
# Tamper-evident audit chain (README "Audit chain"). On PostgreSQL a trigger lets only this role update or delete
# audit rows (audit_prune runs as it); it is written into the trigger when migrations run. Beat verifies the whole
# chain this often.
AUDIT_MAINTENANCE_ROLE = os.environ.get("AUDIT_MAINTENANCE_ROLE", "portal_maintenance")
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", AUDIT_MAINTENANCE_ROLE):
    raise ImproperlyConfigured(f"AUDIT_MAINTENANCE_ROLE must be a plain role name, got {AUDIT_MAINTENANCE_ROLE!r}")
CELERY_BEAT_SCHEDULE["verify-audit-chain"] = {
    "task": "portal.core.tasks.verify_audit_chain",
    "schedule": float(os.environ.get("AUDIT_VERIFY_EVERY_SECONDS", "3600")),
}

# Logs: one JSON object per line (request id, user, task; secrets masked) unless LOG_FORMAT=console, the default with
# DEBUG (`make run`). Worker and beat use the same configuration (portal.core.logs).
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("console" if DEBUG else "json")
if LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or console, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"portal": {"()": "portal.core.logs.formatter", "format": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "portal"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Sign-in lockout, API throttling and browser security headers -------------------------------------------------
# One block on purpose: django-axes, DRF throttles, django-csp and django-permissions-policy. Client addresses for
# all of them (and the audit log) come from `portal.core.audit.client_address`, which honours
# AUDIT_TRUST_X_FORWARDED_FOR.

# Sign-in lockout: AXES_FAILURE_LIMIT failures within AXES_COOLOFF_MINUTES lock out a username, and separately an
# address ("username+ip_address" in AXES_LOCKOUT_PARAMETERS would lock only the pair). Admins unlock on /lockouts/.
INSTALLED_APPS += ["axes"]
# Last, as axes asks: it turns a sign-in flagged as locked out into the lockout page.
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "portal.accounts.oidc.PortalOIDCBackend",  # does nothing while OIDC_OP_ISSUER is unset
    "portal.accounts.oidc.LocalPasswordBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [group.split("+") for group in env_list("AXES_LOCKOUT_PARAMETERS", "username,ip_address")]
if not AXES_LOCKOUT_PARAMETERS or not {p for group in AXES_LOCKOUT_PARAMETERS for p in group} <= {
    "username",
    "ip_address",
    "user_agent",
}:
    raise ImproperlyConfigured("AXES_LOCKOUT_PARAMETERS: comma-separated username, ip_address or user_agent (+ joins)")
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a lockout ends a cool-off after it began, however many retries
AXES_CLIENT_IP_CALLABLE = "portal.core.audit.client_address"
AXES_LOCKOUT_CALLABLE = "portal.accounts.lockout.lockout_response"
AXES_ENABLE_ADMIN = False  # unlocking goes through the portal's audited page and API, not an unaudited admin delete
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept: a table that would grow without bound
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]

# The cache holds the API's throttle counters, which every web process must share: Redis when REDIS_URL (or a redis://
# broker) names one, otherwise files under var/ (a per-process memory cache would let each gunicorn worker count alone).
_redis_cache_url = os.environ.get("REDIS_URL") or (CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
CACHES = {
    "default": {
        "BACKEND": "portal.core.cache.RedisCache",
        "LOCATION": _redis_cache_url,
        "KEY_PREFIX": "portal",
    }
    if _redis_cache_url
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    }
}


def env_rate(name: str, default: str) -> str:
    rate = os.environ.get(name) or default
    if not re.fullmatch(r"\d+/(s|sec|m|min|h|hour|d|day)", rate):
        raise ImproperlyConfigured(f"{name} must be a rate such as 60/min (per s, min, hour or day), got {rate!r}")
    return rate


# Alertmanager webhook limits: over them a payload is refused with a 413 naming the limit, so that no payload runs
# into gunicorn's worker timeout (each group that opens an incident costs what declaring one does).
ALERT_WEBHOOK_MAX_BYTES = int(os.environ.get("ALERT_WEBHOOK_MAX_BYTES", str(10 * 1024 * 1024)))
ALERT_WEBHOOK_MAX_ALERTS = int(os.environ.get("ALERT_WEBHOOK_MAX_ALERTS", "5000"))
ALERT_WEBHOOK_MAX_NEW_GROUPS = int(os.environ.get("ALERT_WEBHOOK_MAX_NEW_GROUPS", "200"))

# API throttling per token (or signed-in user) and per anonymous address; integrations (Alertmanager, the deploy
# gate) have their own scope, generous so that an alert storm is never throttled away.
REST_FRAMEWORK |= {
    "DEFAULT_THROTTLE_CLASSES": [
        "portal.core.api.throttling.UserRateThrottle",
        "portal.core.api.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_THROTTLE_USER", "1000/min"),
        "anon": env_rate("API_THROTTLE_ANON", "60/min"),
        "integration": env_rate("API_THROTTLE_INTEGRATION", "6000/min"),
        # Each status-page subscription request sends an email to an address anyone may type.
        "subscribe": env_rate("API_THROTTLE_SUBSCRIBE", "10/hour"),
    },
}

# Single sign-on (OpenID Connect, mozilla-django-oidc): on when OIDC_OP_ISSUER is set; endpoints come from its
# discovery document. IdP groups (in the OIDC_GROUPS_CLAIM claim) grant roles on every sign-in. PORTAL_LOCAL_LOGIN=0
# turns passwords off except for the break-glass accounts.
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "").rstrip("/")
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_GROUPS = {
    "Viewer": env_list("OIDC_VIEWER_GROUPS"),
    "Responder": env_list("OIDC_RESPONDER_GROUPS"),
    "Incident Commander": env_list("OIDC_INCIDENT_COMMANDER_GROUPS"),
    "Admin": env_list("OIDC_ADMIN_GROUPS"),
}
OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT", "10"))
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # for the provider's end-session endpoint (id_token_hint)
OIDC_OP_LOGOUT_URL_METHOD = "portal.accounts.oidc.provider_logout_url"
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"
if OIDC_OP_ISSUER and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ImproperlyConfigured("OIDC_OP_ISSUER is set: set OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET too.")
PORTAL_LOCAL_LOGIN = env_bool("PORTAL_LOCAL_LOGIN", True)
PORTAL_BREAK_GLASS_USERS = env_list("PORTAL_BREAK_GLASS_USERS", "admin")
if not PORTAL_LOCAL_LOGIN and not OIDC_OP_ISSUER:
    raise ImproperlyConfigured("PORTAL_LOCAL_LOGIN=0 needs single sign-on: set OIDC_OP_ISSUER.")

# Content-Security-Policy: nothing inline, nothing from elsewhere (Swagger UI at /api/docs included).
_after_security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
MIDDLEWARE[_after_security:_after_security] = [
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "report-uri": env_list("CSP_REPORT_URI") or None,
    }
}
# Powerful browser features the portal never uses are denied to it and to anything it could embed.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "browsing-topics", "camera", "display-capture", "geolocation",
        "gyroscope", "hid", "idle-detection", "magnetometer", "microphone", "midi", "payment", "screen-wake-lock",
        "serial", "usb", "xr-spatial-tracking",
    )
}  # fmt: skip
