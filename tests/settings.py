"""Test settings: production-like (DEBUG off) except for plain HTTP and unhashed static names.

With PORTAL_REQUIRE_SERVICES=1 the suite runs on PostgreSQL and Redis on 127.0.0.1 unless DATABASE_URL and
CELERY_BROKER_URL say otherwise.
"""

import os
import tempfile

# Forced, not defaulted: a developer's .env (DEBUG=1, their KUBECONFIG...) must not change what the suite tests.
os.environ["PORTAL_ENV_FILE"] = ""
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "k" * 40)
# A fixed Fernet key, base64 of b"tests-only-field-encryption-key!"; inherited by the portal processes tests start.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(name, "0")  # the browser tests' live server speaks plain HTTP
if os.environ.get("PORTAL_REQUIRE_SERVICES") == "1":
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="portal-tests-"))

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_USE_FINDERS = True  # serve static files without collectstatic, as runserver does
WHITENOISE_AUTOREFRESH = True
# Live-server threads must not keep connections open past a request (the test database is dropped at the end).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the browser tests' server threads then use their own connections, as in production.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(os.environ["PORTAL_VAR_DIR"], "test.sqlite3")}  # noqa: F405
# One process holds the suite (live-server threads included), so a memory cache serves; cleared before each test
# (tests/conftest.py). Not the Redis cache: clearing that would flush the broker's database too.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The suite must never be throttled by accident: tests of throttling set low rates themselves; the production
# defaults stay readable in portal.settings.REST_FRAMEWORK.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        "user": "100000/min",
        "anon": "100000/min",
        "integration": "100000/min",
        "subscribe": "100000/min",
    },
}
