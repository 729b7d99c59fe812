"""Settings, driven by environment variables.

The defaults make `make demo` work with no setup: they point at the project-local cluster
started by scripts/cluster.sh, except DEBUG: it is off unless DEBUG=true (the Makefile and a
pytest run turn it on). Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY and
ALLOWED_HOSTS. Test-only overrides live in tests/conftest.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# The ports `make setup` started the local cluster and Redis on (scripts/cluster.sh writes
# them): manage.py, Celery and pytest then reach the same cluster as the make targets. The
# environment still wins.
LOCAL_PORTS_FILE = BASE_DIR / "var" / "ports.env"


def read_local_ports(path: Path) -> dict[str, str]:
    """PG_PORT and REDIS_PORT from the ports file, {} when there is none."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {key: value for key, value in pairs if key in ("PG_PORT", "REDIS_PORT")}


for _name, _port in read_local_ports(LOCAL_PORTS_FILE).items():
    os.environ.setdefault(_name, _port)


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envsecret(name: str, debug: bool) -> str:
    value = os.environ.get(name, "")
    if value:
        return value
    if debug:
        # Only for local development: DEBUG must be on for this fallback to apply.
        return "insecure-development-key-do-not-use-in-production"
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")


# Off unless asked for, so a deployment that forgets the variable shows no tracebacks. pytest
# counts as asking: pytest-django loads these settings before tests/conftest.py could set it.
DEBUG = envbool("DEBUG", "true" if "pytest" in sys.modules else "false")
SECRET_KEY = envsecret("SECRET_KEY", DEBUG)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if not DEBUG else "*")
SITE_NAME = os.environ.get("SITE_NAME", "Ground Motion Service")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.humanize",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "leaflet",
    "groundmotion",
    "processing",
    "accounts",
    "downloads",
    "ogc",
    "operations",
]

MIDDLEWARE = [
    # Request id, metrics and the request log line around everything below; then /healthz,
    # /readyz and /metrics answered before the host and HTTPS checks (operations/middleware.py).
    "operations.middleware.ObserveRequests",
    "operations.middleware.AnswerOperationsEndpoints",
    "django.middleware.security.SecurityMiddleware",
    # A NUL in the path, a parameter, a header, a cookie or a form field is a 400:
    # PostgreSQL text cannot hold one, and it would otherwise surface as a 500.
    "config.middleware.RejectNulCharacters",
    # A path under /api/ that matches no route is a JSON 404, not Django's HTML page.
    "config.middleware.JsonNotFoundUnderApi",
    # Tiles, TileJSON, styles and /ogc/ readable by pages of other sites (no credentials).
    "config.middleware.OpenDataCors",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into accounts.lockout's 429 page.
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
                "groundmotion.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get(
            "DATABASE_URL",
            f"postgis://postgres@127.0.0.1:{envint('PG_PORT', '54329')}/groundmotion",
        ),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60"),
    )
}
# Statements run through groundmotion/storage/compiled.py's server-bound cursors are prepared at
# their first run on each connection; Django's own (client-bound) cursors never prepare. Behind
# PgBouncer in transaction mode this needs PgBouncer 1.21+ with max_prepared_statements set.
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 0
if DATABASES["default"]["ENGINE"] != "django.contrib.gis.db.backends.postgis":
    raise ImproperlyConfigured("DATABASE_URL must use the postgis:// scheme")

# Read replicas (config/replicas.py): streaming hot standbys of DATABASE_URL, comma-separated
# postgis:// URLs, aliases replica_0, replica_1, ... The viewer's reads go to one that answers
# and replays within REPLICA_MAX_LAG_SECONDS (each process asks every REPLICA_PROBE_SECONDS);
# a client's reads stay on the primary for REPLICA_STICKY_SECONDS after it writes. None: the
# primary serves everything, and neither the router nor the middleware is installed.
DATABASE_REPLICA_URLS = envlist("DATABASE_REPLICA_URLS", "")
REPLICA_MAX_LAG_SECONDS = envint("REPLICA_MAX_LAG_SECONDS", "2")
REPLICA_PROBE_SECONDS = envint("REPLICA_PROBE_SECONDS", "2")
REPLICA_STICKY_SECONDS = envint("REPLICA_STICKY_SECONDS", "10")
for _index, _url in enumerate(DATABASE_REPLICA_URLS):
    _replica = dj_database_url.parse(_url, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"])
    if _replica["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS must use the postgis:// scheme")
    # A replica that does not answer is skipped, not waited for.
    _replica.setdefault("OPTIONS", {}).update(prepare_threshold=0, connect_timeout=2)
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_index}"] = _replica
DATABASE_ROUTERS = ["config.replicas.ReplicaRouter"] if DATABASE_REPLICA_URLS else []
if DATABASE_REPLICA_URLS:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("config.middleware.RejectNulCharacters") + 1,
        "config.replicas.ReplicaReads",
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("CACHE_URL", "redis://127.0.0.1:63799/1"),
        "TIMEOUT": envint("CACHE_TIMEOUT", "3600"),
    }
    if os.environ.get("CACHE_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "groundmotion"}
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Sign-in lock-out (django-axes, accounts/lockout.py): its backend refuses a (user name, client
# address) pair after GROUNDMOTION['LOGIN_FAILURE_LIMIT'] failures within the window, on every
# form that authenticates with a request (/accounts/login/, /admin/login/). API tokens and
# sessions do not pass through authenticate() and are unaffected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = "accounts.lockout.failure_limit"
AXES_COOLOFF_TIME = "accounts.lockout.cool_off"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A try while locked does not restart the wait, so the page's "wait N minutes" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# Celery: hard and soft time limits so a stuck job cannot hold a worker forever.
CELERY_BROKER_URL = os.environ.get(
    "CELERY_BROKER_URL", f"redis://127.0.0.1:{envint('REDIS_PORT', '63799')}/0"
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "false")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", str(6 * 3600))
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", str(6 * 3600 - 60))
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The reaper of jobs whose worker died (processing/runs.py); `make demo` runs beat in its worker.
CELERY_BEAT_SCHEDULE = {
    "reap-lost-jobs": {
        "task": "processing.reap_lost_jobs",
        "schedule": float(envint("GROUNDMOTION_JOB_REAP_S", "60")),
    },
    "remove-expired-exports": {
        "task": "downloads.remove_expired_exports",
        "schedule": float(envint("GROUNDMOTION_EXPORT_SWEEP_S", "3600")),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Tokens first: DRF takes WWW-Authenticate from the first class, so a bad token is a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    # DRF's JSON parser with bounded depth and no NUL characters: bad bodies are 400s,
    # and a deeply nested body cannot exhaust the stack.
    "DEFAULT_PARSER_CLASSES": [
        "groundmotion.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ground Motion Service API",
    "DESCRIPTION": (
        "Persistent Scatterer InSAR products. Units: displacement mm, velocity mm/yr. "
        "Sign convention: positive line-of-sight values move towards the satellite; "
        "east is positive eastwards and up positive upwards."
    ),
    "VERSION": "1.0.0",
    # The docs page loads Swagger UI from static/vendor (npm swagger-ui-dist), never a CDN.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui-dist-5.35.0",
    "SWAGGER_UI_FAVICON_HREF": "/static/vendor/swagger-ui-dist-5.35.0/favicon-32x32.png",
}

# The service's own settings, validated in groundmotion/apps.py at start-up.
GROUNDMOTION = {
    # Zoom from which tiles carry individual points rather than aggregated cells.
    "POINT_ZOOM": envint("GROUNDMOTION_POINT_ZOOM", "13"),
    # Statement timeout for tile queries, milliseconds.
    "TILE_STATEMENT_TIMEOUT_MS": envint("GROUNDMOTION_TILE_TIMEOUT_MS", "5000"),
    # Seconds a rendered tile stays in the server-side cache; 0 turns the cache off.
    "TILE_CACHE_SECONDS": envint("GROUNDMOTION_TILE_CACHE_SECONDS", "3600"),
    # Megabytes of hot tiles each server process keeps in memory before the shared cache.
    "TILE_LOCAL_CACHE_MB": envint("GROUNDMOTION_TILE_LOCAL_CACHE_MB", "64"),
    # Milliseconds each server process keeps an anonymous tile lookup of a published public
    # dataset (access.get_dataset_for_tiles); 0 looks every tile request up in the database.
    "PUBLIC_TILE_LOOKUP_MS": envint("GROUNDMOTION_PUBLIC_TILE_LOOKUP_MS", "1000"),
    # Reduced-resolution datasets: anonymous users get cells at least this many
    # metres on the ground at every latitude, each of at least this many points (else withheld).
    # Rebuild the cells after changing either (groundmotion.cells.refresh_datasets).
    "REDUCED_CELL_M": envint("GROUNDMOTION_REDUCED_CELL_M", "500"),
    "REDUCED_MIN_POINTS": envint("GROUNDMOTION_REDUCED_MIN_POINTS", "5"),
    # Base-map URL for when the viewer is online; empty means the offline outline map only.
    "BASEMAP_URL": os.environ.get("GROUNDMOTION_BASEMAP_URL", ""),
    "BASEMAP_ATTRIBUTION": os.environ.get("GROUNDMOTION_BASEMAP_ATTRIBUTION", ""),
    # Nominatim-style search URL with {q}, asked by the browser beside the offline gazetteer.
    "GEOCODER_URL": os.environ.get("GROUNDMOTION_GEOCODER_URL", ""),
    # Downloads: largest area and point count per request, how many points stream
    # at once (more become an export job), and each user's daily number and points.
    "DOWNLOAD_MAX_AREA_KM2": envint("GROUNDMOTION_DOWNLOAD_MAX_AREA_KM2", "2500"),
    "DOWNLOAD_MAX_POINTS": envint("GROUNDMOTION_DOWNLOAD_MAX_POINTS", "5000000"),
    "DOWNLOAD_SYNC_POINTS": envint("GROUNDMOTION_DOWNLOAD_SYNC_POINTS", "100000"),
    "DOWNLOAD_DAILY_REQUESTS": envint("GROUNDMOTION_DOWNLOAD_DAILY_REQUESTS", "100"),
    "DOWNLOAD_DAILY_POINTS": envint("GROUNDMOTION_DOWNLOAD_DAILY_POINTS", "20000000"),
    # Hours a finished export job's file stays downloadable before it is removed.
    "DOWNLOAD_FILE_HOURS": envint("GROUNDMOTION_DOWNLOAD_FILE_HOURS", "72"),
    # Jobs (processing/runs.py): seconds between a running job's heartbeats, and the silence
    # after which the reaper fails it as lost (the longest a dead job can show `running`).
    "JOB_HEARTBEAT_S": envint("GROUNDMOTION_JOB_HEARTBEAT_S", "10"),
    "JOB_LOST_AFTER_S": envint("GROUNDMOTION_JOB_LOST_AFTER_S", "120"),
    # Fanned-out jobs (processing/fanout.py): fit, reference and CSV exports of at least
    # JOB_FANOUT_POINTS points (0: never) run as chunks of JOB_CHUNK_POINTS on any worker; a
    # chunk whose worker is lost runs again, up to JOB_CHUNK_ATTEMPTS times.
    "JOB_FANOUT_POINTS": envint("GROUNDMOTION_JOB_FANOUT_POINTS", "1000000"),
    "JOB_CHUNK_POINTS": envint("GROUNDMOTION_JOB_CHUNK_POINTS", "200000"),
    "JOB_CHUNK_ATTEMPTS": envint("GROUNDMOTION_JOB_CHUNK_ATTEMPTS", "3"),
    # Sign-in lock-out: failures of one user name from one client address within the window.
    "LOGIN_FAILURE_LIMIT": envint("GROUNDMOTION_LOGIN_FAILURE_LIMIT", "5"),
    "LOGIN_FAILURE_WINDOW_S": envint("GROUNDMOTION_LOGIN_FAILURE_WINDOW_S", "900"),
    # Reverse proxies in front of the server that append to X-Forwarded-For; 0 ignores the
    # header (a client can write anything there) and uses the connection's address.
    "TRUSTED_PROXY_COUNT": envint("GROUNDMOTION_TRUSTED_PROXY_COUNT", "0"),
}

# Static public tiles (docs/static-tiles.md): where publishing or a mask change rebuilds
# <slug>.pmtiles (empty: never), and the base URL the viewer reads them from (empty: /tiles/).
GROUNDMOTION_PMTILES_DIR = os.environ.get("GROUNDMOTION_PMTILES_DIR", "")
GROUNDMOTION_PMTILES_URL = os.environ.get("GROUNDMOTION_PMTILES_URL", "")

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (43.71, -1.05),
    "DEFAULT_ZOOM": 11,
    "MIN_ZOOM": 3,
    "MAX_ZOOM": 18,
    "TILES": [],
    "NO_GLOBALS": True,
    "RESET_VIEW": False,
    # Declared once; the map page loads them with {% leaflet_js plugins="..." %}.
    "PLUGINS": {
        "draw": {
            "js": ["leaflet/draw/leaflet.draw.js"],
            "css": ["leaflet/draw/leaflet.draw.css"],
        },
        "outlines": {"js": ["vendor/topojson-client-3.1.0/topojson-client.min.js"]},
        "viewer": {
            "js": [
                "vendor/pbf-3.3.0/pbf.js",
                "vendor/pmtiles-4.5.0/pmtiles.js",
                "js/point-tiles.js",
                "js/legend.js",
                "js/series-chart.js",
                "js/url-state.js",
                "js/point-panel.js",
                "js/draw-area.js",
                "js/basemap.js",
                "js/overlays.js",
                "js/gnss-compare.js",
                "js/place-search.js",
                "js/layer-picker.js",
                "js/analysis-controls.js",
                "js/analysis-viewer.js",
                "js/chart-tools.js",
                "js/profile-tool.js",
                "js/map.js",
            ],
            "css": ["css/map.css"],
        },
    },
}

# Security when not in DEBUG: HTTPS only, secure cookies, HSTS (`manage.py check --deploy` clean).
# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER_ENABLED=true.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false" if DEBUG else "true")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "true")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if envbool("SECURE_PROXY_SSL_HEADER_ENABLED", "false"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "groundmotion@localhost")

# Operations (operations/): /metrics is open to loopback clients, or with METRICS_TOKEN set to
# clients sending `Authorization: Bearer <token>` only; /readyz runs its checks at most once
# per READYZ_CACHE_SECONDS per process.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
READYZ_CACHE_SECONDS = float(envint("READYZ_CACHE_SECONDS", "1"))
# LOG_FORMAT=json: one JSON object a line (operations/jsonlog.py), with a line per request.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "operations.jsonlog.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(message)s"},
        "json": {"()": "operations.jsonlog.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        "operations.requests": {"level": "INFO" if LOG_FORMAT == "json" else "WARNING"},
        # In JSON, Django's own records (request errors, runserver's lines) go out through the
        # same handler, not also through the plain-text one Django adds under DEBUG.
        **{
            name: {"handlers": ["console"], "level": "INFO", "propagate": False}
            for name in (("django", "django.server") if LOG_FORMAT == "json" else ())
        },
    },
}
SILENCED_SYSTEM_CHECKS = ["gis.W001"]  # Debian 12 ships GDAL 3.6; no newer GDAL here.
