"""Settings shared by every environment, with safe embedded defaults.

With no environment variable set, the platform runs on one machine with no server: SQLite
and local file storage under `CLEANROOM_DATA_DIR` (default: `var/` in the checkout). The data
folder and everything in it are readable by the platform's own user only (config/files.py).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, TypedDict

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_secret, env_str
from config.files import PRIVATE_FILE_MODE, PRIVATE_FOLDER_MODE, close_folder

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env_str("CLEANROOM_DATA_DIR") or BASE_DIR / "var").resolve()
close_folder(DATA_DIR)


def _embedded_secret_key(data_dir: Path) -> str:
    """A per-install key kept in the data folder (never in the repository)."""
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    return key


SECRET_KEY = env_secret("CLEANROOM_SECRET_KEY") or _embedded_secret_key(DATA_DIR)
DEBUG = env_bool("CLEANROOM_DEBUG", False)
ALLOWED_HOSTS = env_list("CLEANROOM_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",  # request.htmx, and htmx itself as a static file (never from a CDN)
    "core",
    "provenance",
    "auditing",
    "training",
    "generation",
    "demo",  # above every app: it seeds them all
]

MIDDLEWARE = [
    # First: the request id is set before anything can log, and the latency covers the rest.
    "core.logs.RequestIdMiddleware",
    "core.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the stylesheet, htmx) straight from the web process, before any other work.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    "core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
                "core.web.context_processors.navigation",
            ],
        },
    },
]


def _database_from_url(url: str) -> dj_database_url.DBConfig:
    try:
        config = dj_database_url.parse(url, conn_max_age=60)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        # IMMEDIATE takes the write lock when a transaction starts, so two writers never both
        # read the audit chain's head and then fail; WAL lets readers run beside a writer.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'cleanroom.sqlite3'}"
DATABASES = {"default": _database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# A web session lasts one working day from logging in, and ends when the browser closes.
SESSION_COOKIE_AGE = env_int("CLEANROOM_SESSION_SECONDS", 8 * 3600)
if SESSION_COOKIE_AGE < 60:
    raise ImproperlyConfigured(f"CLEANROOM_SESSION_SECONDS={SESSION_COOKIE_AGE} must be at least 60")
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# The project's own static files (templates/ has the pages); apps' ones come from their static/.
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files. Embedded and in tests it reads them where they lie (no
# collectstatic); production serves only what `manage.py collectstatic` wrote, with hashed names.
WHITENOISE_USE_FINDERS = True

# Blobs (training images, evidence documents) live behind Django's storage API, keyed by their
# sha256, so an S3-compatible backend replaces local files by configuration alone.
_BLOB_BACKEND = env_str("CLEANROOM_BLOB_STORAGE_BACKEND") or "core.storage.ContentAddressedFileSystemStorage"
_BLOB_OPTIONS: dict[str, object] = {"location": str(DATA_DIR / "blobs")}
if _BLOB_BACKEND == "core.storage.ContentAddressedS3Storage":
    # Versioning and replication of the bucket are the blobs' backup (docs/operations.md).
    _BLOB_OPTIONS = {
        "bucket_name": env_str("CLEANROOM_S3_BUCKET") or "",
        "endpoint_url": env_str("CLEANROOM_S3_ENDPOINT_URL") or None,
        "region_name": env_str("CLEANROOM_S3_REGION") or None,
        "access_key": env_secret("CLEANROOM_S3_ACCESS_KEY_ID"),
        "secret_key": env_secret("CLEANROOM_S3_SECRET_ACCESS_KEY"),
        "default_acl": None,
    }
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "media")},
    },
    "blobs": {
        "BACKEND": _BLOB_BACKEND,
        "OPTIONS": _BLOB_OPTIONS,
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Django's file storages chmod what they save (0644 unless told): blobs and media are private.
FILE_UPLOAD_PERMISSIONS = PRIVATE_FILE_MODE
FILE_UPLOAD_DIRECTORY_PERMISSIONS = PRIVATE_FOLDER_MODE
# Uploads: every file streams to a temporary file and is hashed as it arrives (core/uploads.py),
# never held in memory, whatever its size. (FILE_UPLOAD_MAX_MEMORY_SIZE then only bounds what an
# ASGI server keeps of a body in memory before spilling it to disk.)
FILE_UPLOAD_HANDLERS = ["core.uploads.HashingFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# The largest request, files and all (its Content-Length): larger is refused with 413 `too_large`
# before anything is read (core/middleware.py). It bounds the temporary disk one request can use.
CLEANROOM_UPLOAD_MAX_REQUEST_BYTES = env_int("CLEANROOM_UPLOAD_MAX_REQUEST_BYTES", 2 * 1024**3)
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("CLEANROOM_UPLOAD_MAX_FILES", 1000)
# A portal upload left unprocessed this long is abandoned: its staged files are removed (beat's
# `provenance.sweep_upload_sessions`); the contributor starts a new one.
CLEANROOM_UPLOAD_ABANDON_AFTER_HOURS = env_int("CLEANROOM_UPLOAD_ABANDON_AFTER_HOURS", 24)
# The largest request body read into memory: a JSON body or form fields (uploaded files are
# streamed and limited on their own). Larger: the API answers 413 `too_large`.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CLEANROOM_MAX_BODY_BYTES", 2_621_440)
# How deep JSON from outside may nest (API bodies, consent files, a base model's configs): none
# of ours passes a few levels, and Python's parser crashes past ~1,000. Deeper: `json_too_deep`.
CLEANROOM_JSON_MAX_DEPTH = env_int("CLEANROOM_JSON_MAX_DEPTH", 64)

# --- Client addresses, rate limits and log-in lockouts ------------------------------------------
# How many proxies of our own stand in front of the web process and append to X-Forwarded-For
# (core/client_ip.py). 0 (the default): the header is ignored and the client is the socket's
# address; never set it higher than the real chain, or clients can forge their address. On
# Kubernetes behind an ingress controller (ingress-nginx, Traefik) that is 1, or 2 with a cloud
# load balancer in front of the ingress that also appends; with an L4 load balancer that does not
# append, keep the ingress's count and make it see the client (externalTrafficPolicy: Local, or
# the PROXY protocol).
CLEANROOM_TRUSTED_PROXIES = env_int("CLEANROOM_TRUSTED_PROXIES", 0)
if CLEANROOM_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured(f"CLEANROOM_TRUSTED_PROXIES={CLEANROOM_TRUSTED_PROXIES} must be 0 or more")
# Throttle counts (DRF) live in the cache, so it must be one that every web process shares: by
# default the database (SQLite embedded, PostgreSQL in production: no extra server; core's
# migration 0007 creates the table), or Redis with CLEANROOM_CACHE_URL=redis://host:6379/1 where
# the database should be spared a write per throttled request.
CLEANROOM_CACHE_URL = env_str("CLEANROOM_CACHE_URL") or ""
if CLEANROOM_CACHE_URL and not CLEANROOM_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"CLEANROOM_CACHE_URL={CLEANROOM_CACHE_URL!r} is not a redis://, rediss:// or unix:// URL")
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLEANROOM_CACHE_URL}
        if CLEANROOM_CACHE_URL
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cleanroom_cache",  # core/migrations/0009_cache_table.py
            # Culling starts past this many entries (Django's default, 300, would let a burst of
            # clients push each other's counts out).
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    )
}


# The shapes of the settings dicts the services read, so mypy (django-stubs reads settings from
# this module) checks every read. Django takes only upper-case names, so these stay out of it.
class IngestSettings(TypedDict):
    MAX_FILE_BYTES: int
    MAX_IMAGE_PIXELS: int
    MAX_DECODED_BYTES: int
    ALLOWED_FORMATS: list[str]
    ZIP_MAX_MEMBERS: int
    ZIP_MAX_TOTAL_BYTES: int
    ZIP_MAX_RATIO: int
    ZIP_MAX_DEPTH: int
    MAX_CAPTION_CHARS: int


class LoginLockoutSettings(TypedDict):
    MAX_FAILURES_PER_ACCOUNT: int
    MAX_FAILURES_PER_ADDRESS: int
    SECONDS: int


class TrainingSettings(TypedDict):
    DEFAULT_STEPS: int
    MAX_STEPS: int
    DEVICE: str
    SOFT_TIME_LIMIT: int
    TIME_LIMIT: int


class GenerationSettings(TypedDict):
    DEVICE: str
    DEFAULT_STEPS: int
    MAX_PIXELS: int


# Password guessing on the log-in page and the token endpoint (core/login_guard.py): this many
# failed log-ins for one username, or from one client address (an IPv6 /64), each within SECONDS
# of the last, lock that account or address out, even for the right password, until SECONDS
# after the last failure. A success clears the account's count.
CLEANROOM_LOGIN_LOCKOUT: LoginLockoutSettings = {
    "MAX_FAILURES_PER_ACCOUNT": env_int("CLEANROOM_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5),
    "MAX_FAILURES_PER_ADDRESS": env_int("CLEANROOM_LOGIN_MAX_FAILURES_PER_ADDRESS", 20),
    "SECONDS": env_int("CLEANROOM_LOGIN_LOCKOUT_SECONDS", 900),
}

# Ingest limits: each one turns a hostile file into a `refused` row, never a crash.
CLEANROOM_INGEST: IngestSettings = {
    "MAX_FILE_BYTES": env_int("CLEANROOM_MAX_FILE_BYTES", 200 * 1024 * 1024),
    "MAX_IMAGE_PIXELS": env_int("CLEANROOM_MAX_IMAGE_PIXELS", 100_000_000),
    # What an image may take once decoded (width × height × bands × bytes per sample), checked
    # from its header before decoding: 100 Mpx of 8-bit RGB; 75 Mpx of RGBA; 50 Mpx of 16-bit RGB.
    "MAX_DECODED_BYTES": env_int("CLEANROOM_MAX_DECODED_BYTES", 300_000_000),
    "ALLOWED_FORMATS": env_list("CLEANROOM_ALLOWED_FORMATS", ["JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP"]),
    "ZIP_MAX_MEMBERS": env_int("CLEANROOM_ZIP_MAX_MEMBERS", 100_000),
    "ZIP_MAX_TOTAL_BYTES": env_int("CLEANROOM_ZIP_MAX_TOTAL_BYTES", 50 * 1024**3),
    "ZIP_MAX_RATIO": env_int("CLEANROOM_ZIP_MAX_RATIO", 200),
    "ZIP_MAX_DEPTH": env_int("CLEANROOM_ZIP_MAX_DEPTH", 2),
    "MAX_CAPTION_CHARS": env_int("CLEANROOM_MAX_CAPTION_CHARS", 10_000),
}
# A step of long-running work (an ingest's group of files) whose database connection was cut (a
# PostgreSQL restart or failover) runs again once the database answers, for up to this long (core/db.py).
CLEANROOM_DB_RECONNECT_SECONDS = env_int("CLEANROOM_DB_RECONNECT_SECONDS", 30)
# The operator's do-not-train list: sha256 digests and source URLs, one per line.
CLEANROOM_DO_NOT_TRAIN_FILE = env_str("CLEANROOM_DO_NOT_TRAIN_FILE") or str(DATA_DIR / "do-not-train.txt")

# --- Auditing -----------------------------------------------------------------------------------
# Each entry is a dotted path to an auditor class (auditing/auditors/<name>.py).
CLEANROOM_AUDITORS = env_list(
    "CLEANROOM_AUDITORS",
    [
        "auditing.auditors.synthetic.SyntheticAuditor",
        "auditing.auditors.pii.PiiAuditor",
        "auditing.auditors.nsfw.NsfwAuditor",
        "auditing.auditors.near_duplicate.NearDuplicateAuditor",
    ],
)
# Persistent near-duplicate indexes (protected works); rebuilt from the database when missing.
CLEANROOM_INDEX_DIR = Path(env_str("CLEANROOM_INDEX_DIR") or DATA_DIR / "indexes").resolve()
# PII: a local spaCy NER model directory adds PERSON/LOCATION (none can be downloaded here).
CLEANROOM_PII = {
    "NER_MODEL_DIR": env_str("CLEANROOM_PII_NER_MODEL_DIR") or "",
    "OCR": env_bool("CLEANROOM_PII_OCR", True),
    "FACES": env_bool("CLEANROOM_PII_FACES", True),
    # nudenet | haar, or the dotted path of an auditing.detectors.faces.base.FaceDetector subclass.
    "FACE_BACKEND": env_str("CLEANROOM_PII_FACE_BACKEND") or "nudenet",
}
# NSFW: BACKEND nudenet (THRESHOLD, LABELS, SANITY) or clip (WEIGHTS, MODEL, HEAD, THRESHOLD), or the dotted
# path of an auditing.detectors.nsfw.base.NsfwDetector subclass; see
# auditing/detectors/nsfw/nudenet.py for what each label means and why the default ones count.
CLEANROOM_NSFW: dict[str, str | float] = {"BACKEND": env_str("CLEANROOM_NSFW_BACKEND") or "nudenet"}
if _threshold := env_str("CLEANROOM_NSFW_THRESHOLD"):
    CLEANROOM_NSFW["THRESHOLD"] = float(_threshold)
# nudenet only: SANITY false counts every detection as the model gives it, without the skin-evidence
# policy of auditing/detectors/nsfw/sanity.py (set only when given: the clip backend refuses it).
if env_str("CLEANROOM_NSFW_SANITY"):
    CLEANROOM_NSFW["SANITY"] = env_bool("CLEANROOM_NSFW_SANITY", True)
# The "clip" backend: MODEL (open_clip architecture name or config JSON path), WEIGHTS (a local
# checkpoint), HEAD (a .safetensors/.npz head; see auditing/detectors/nsfw/clip.py NsfwHead).
for _key in ("WEIGHTS", "MODEL", "HEAD"):
    if _value := env_str(f"CLEANROOM_NSFW_{_key}"):
        CLEANROOM_NSFW[_key] = _value
# Near-duplicate candidates from image embeddings (off unless both are set): MODEL is an open_clip
# architecture name or a config JSON path, WEIGHTS a local checkpoint; never downloaded.
CLEANROOM_EMBEDDINGS = {
    "MODEL": env_str("CLEANROOM_EMBEDDINGS_MODEL") or "",
    "WEIGHTS": env_str("CLEANROOM_EMBEDDINGS_WEIGHTS") or "",
    "DEVICE": env_str("CLEANROOM_EMBEDDINGS_DEVICE") or "cpu",
    "CANDIDATES": env_int("CLEANROOM_EMBEDDINGS_CANDIDATES", 8),
    "MIN_SIMILARITY": float(env_str("CLEANROOM_EMBEDDINGS_MIN_SIMILARITY") or 0.75),
}
# Up to this many embeddings the candidate search is exact (faiss IndexFlatIP); beyond it an
# inverted file (IndexIVFFlat): query p50 and recall at 1M in docs/scale.md.
CLEANROOM_EMBEDDINGS_ANN_THRESHOLD = env_int("CLEANROOM_EMBEDDINGS_ANN_THRESHOLD", 50_000)
if CLEANROOM_EMBEDDINGS_ANN_THRESHOLD < 1:
    raise ImproperlyConfigured("CLEANROOM_EMBEDDINGS_ANN_THRESHOLD must be at least 1")
# Above this many registered outputs the output registry's index turns compact: it keeps each
# output's hashes and 32 strongest ORB descriptors (the votes in an inverted file) instead of
# its whole ~25 KB fingerprint, and reads the fingerprints of the few candidates it verifies
# from the database (auditing/similarity/compact.py; 1M outputs in ~2 GB: docs/scale.md).
CLEANROOM_OUTPUT_INDEX_COMPACT_THRESHOLD = env_int("CLEANROOM_OUTPUT_INDEX_COMPACT_THRESHOLD", 50_000)
if CLEANROOM_OUTPUT_INDEX_COMPACT_THRESHOLD < 0:
    raise ImproperlyConfigured("CLEANROOM_OUTPUT_INDEX_COMPACT_THRESHOLD must be at least 0")
CLEANROOM_AUDIT_ON_INGEST = env_bool("CLEANROOM_AUDIT_ON_INGEST", True)
# An asset still `auditing` this long after its last change is re-enqueued by the reconciler.
CLEANROOM_AUDIT_DEADLINE_SECONDS = env_int("CLEANROOM_AUDIT_DEADLINE_SECONDS", 900)
# An auditor that has failed on an asset this many times (it raised, or its worker died while it
# ran) is given up: the asset is concluded `flagged` with an `auditor_failed` finding for a
# reviewer, instead of being sent again every deadline for ever. At least 1.
CLEANROOM_AUDIT_MAX_ATTEMPTS = env_int("CLEANROOM_AUDIT_MAX_ATTEMPTS", 3)
if CLEANROOM_AUDIT_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured(f"CLEANROOM_AUDIT_MAX_ATTEMPTS={CLEANROOM_AUDIT_MAX_ATTEMPTS} must be at least 1")

# How long opening an asset in the review queue holds it for that reviewer (renewed while they
# work on it): another reviewer sees who holds it and cannot decide its findings meanwhile.
CLEANROOM_REVIEW_CLAIM_SECONDS = env_int("CLEANROOM_REVIEW_CLAIM_SECONDS", 300)
if CLEANROOM_REVIEW_CLAIM_SECONDS < 30:
    raise ImproperlyConfigured(f"CLEANROOM_REVIEW_CLAIM_SECONDS={CLEANROOM_REVIEW_CLAIM_SECONDS} must be at least 30")
# The reconciler (core/reconcile.py, beat every minute): nothing stays `queued` or `running` for ever.
# Each kind, by dotted path; its app declares how a stuck row is sent again or failed.
CLEANROOM_RECONCILERS = [
    "core.background.RECONCILER",
    "auditing.services.audits.RECONCILER",
    "training.services.reconcile.RECONCILER",
    "generation.services.reconcile.JOBS_RECONCILER",
    "generation.services.reconcile.VERIFICATIONS_RECONCILER",
]
# Queued this long with no worker's claim: the message is taken as lost and sent again under a
# fresh task id (a copy of a message that was only slow is harmless: the claims, and a training
# copy's own check, run the work once; see each app's services/reconcile.py). Queues wait
# behind long work (a training holds a GPU for up to CLEANROOM_TRAINING_TIME_LIMIT), so these
# only bound how late a lost message is noticed, and how many copies a long outage piles up.
CLEANROOM_TRAINING_QUEUE_DEADLINE_SECONDS = env_int("CLEANROOM_TRAINING_QUEUE_DEADLINE_SECONDS", 1800)
CLEANROOM_GENERATION_QUEUE_DEADLINE_SECONDS = env_int("CLEANROOM_GENERATION_QUEUE_DEADLINE_SECONDS", 900)
# Pages' background jobs (core/background.py) wait behind nothing long on the default queue.
CLEANROOM_BACKGROUND_QUEUE_DEADLINE_SECONDS = env_int("CLEANROOM_BACKGROUND_QUEUE_DEADLINE_SECONDS", 300)
CLEANROOM_VERIFY_QUEUE_DEADLINE_SECONDS = env_int("CLEANROOM_VERIFY_QUEUE_DEADLINE_SECONDS", 300)
# Running this long past its task's hard time limit (CLEANROOM_TRAINING_TIME_LIMIT for
# training, CELERY_TASK_TIME_LIMIT for generation and verification): its worker is gone, the
# row fails as `worker_lost`. Audits keep CLEANROOM_AUDIT_DEADLINE_SECONDS (above).
CLEANROOM_RECONCILE_GRACE_SECONDS = env_int("CLEANROOM_RECONCILE_GRACE_SECONDS", 300)
# Those deadlines are the fallback. A worker stamps the row it claimed (an audit run, a training
# run, a generation job, a verification) every CLEANROOM_HEARTBEAT_SECONDS while it works
# (core/heartbeat.py); a `running` row not stamped for CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS lost its
# worker, and the next reconciler pass (every 15 s) fails it as `worker_lost`, or sends an
# audit again, at once: within a minute of the worker's death with the defaults. The timeout
# allows a few missed beats (a busy database): at least twice the interval.
CLEANROOM_HEARTBEAT_SECONDS = env_int("CLEANROOM_HEARTBEAT_SECONDS", 10)
CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS = env_int("CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS", 45)
if CLEANROOM_HEARTBEAT_SECONDS < 1 or CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS < 2 * CLEANROOM_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        f"CLEANROOM_HEARTBEAT_SECONDS={CLEANROOM_HEARTBEAT_SECONDS} must be at least 1 and "
        f"CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS={CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS} at least twice that"
    )

# --- Celery -------------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport under the data folder (no server; inspect and
# revoke work; polled every 0.1 s). Production: amqp://… (RabbitMQ) or redis://….
# --- The organisation's C2PA signing identity (provenance/c2pa/) ---------------------------------
# `pki init` writes a root CA and a signing certificate here (0700; never under anything the web
# process serves). Production points CERT_CHAIN/KEY at its own files, or CALLBACK at a function
# (dotted path) that signs with an HSM/KMS and returns the raw r||s ES256 signature.
CLEANROOM_PKI_DIR = Path(env_str("CLEANROOM_PKI_DIR") or DATA_DIR / "pki").resolve()
CLEANROOM_SIGNER = {
    # files | callback, or the dotted path of a provenance.c2pa.signers.base.SignerBackend subclass.
    "BACKEND": env_str("CLEANROOM_SIGNER_BACKEND") or "files",
    "CERT_CHAIN": env_str("CLEANROOM_SIGNER_CERT_CHAIN") or str(CLEANROOM_PKI_DIR / "signer-chain.pem"),
    "KEY": env_str("CLEANROOM_SIGNER_KEY") or str(CLEANROOM_PKI_DIR / "signer-key.pem"),
    "CALLBACK": env_str("CLEANROOM_SIGNER_CALLBACK") or "",
    "TSA_URL": env_str("CLEANROOM_TSA_URL") or "",
    # PEM bundle of the roots an output must chain to to read `Trusted` (the org's root CA,
    # and the TSA's root when a TSA is configured).
    "TRUST_ANCHORS": env_str("CLEANROOM_TRUST_ANCHORS") or str(CLEANROOM_PKI_DIR / "anchors.pem"),
}

# Which process this is (config/cli.py sets it from the subcommand; containers set it too):
# web | worker | beat, or unset for the embedded platform and the command line. The web process
# verifies (trust anchors and certificates are public) but never signs, so its settings hold no
# way to the signing key: a compromised web pod cannot sign as the organisation.
CLEANROOM_PROCESS = env_str("CLEANROOM_PROCESS") or ""
if CLEANROOM_PROCESS not in {"", "web", "worker", "beat"}:
    raise ImproperlyConfigured(f"CLEANROOM_PROCESS={CLEANROOM_PROCESS!r} is not one of web, worker, beat")
if CLEANROOM_PROCESS == "web":
    CLEANROOM_SIGNER = {**CLEANROOM_SIGNER, "KEY": "", "CALLBACK": ""}

# --- Training and generation (GPU workers; CPU when no CUDA device) ---------------------------------
# Base models are registered from local `save_pretrained` directories; nothing is downloaded.
CLEANROOM_MODELS_DIR = Path(env_str("CLEANROOM_MODELS_DIR") or DATA_DIR / "models").resolve()
CLEANROOM_TRAINING: TrainingSettings = {
    "DEFAULT_STEPS": env_int("CLEANROOM_TRAINING_DEFAULT_STEPS", 100),
    "MAX_STEPS": env_int("CLEANROOM_TRAINING_MAX_STEPS", 20_000),
    "DEVICE": env_str("CLEANROOM_TRAINING_DEVICE") or "auto",  # auto | cpu | cuda
    # Per-task limits of `training.train`; the hard one below the Redis visibility timeout (2 h).
    "SOFT_TIME_LIMIT": env_int("CLEANROOM_TRAINING_SOFT_TIME_LIMIT", 6600),
    "TIME_LIMIT": env_int("CLEANROOM_TRAINING_TIME_LIMIT", 6900),
}
CLEANROOM_GENERATION: GenerationSettings = {
    "DEVICE": env_str("CLEANROOM_GENERATION_DEVICE") or "auto",
    "DEFAULT_STEPS": env_int("CLEANROOM_GENERATION_DEFAULT_STEPS", 25),
    "MAX_PIXELS": env_int("CLEANROOM_GENERATION_MAX_PIXELS", 1024 * 1024),
}
# A batch request (POST /api/v1/generation/batches/): at most this many prompts, one job each, run
# in order by one `generation.run_batch` task. Its time limits cover the whole batch and stay
# below the Redis visibility timeout (2 h), so a running batch is never handed to a second worker.
CLEANROOM_GENERATION_MAX_BATCH = env_int("CLEANROOM_GENERATION_MAX_BATCH", 64)
CLEANROOM_GENERATION_BATCH_SOFT_TIME_LIMIT = env_int("CLEANROOM_GENERATION_BATCH_SOFT_TIME_LIMIT", 6600)
CLEANROOM_GENERATION_BATCH_TIME_LIMIT = env_int("CLEANROOM_GENERATION_BATCH_TIME_LIMIT", 6900)
# `verify` through the API: uploads up to this size (50 MB) and this many pixels (4096 × 4096),
# checked before a pixel is decoded; anyone may ask, at this rate per client.
CLEANROOM_VERIFY_MAX_BYTES = env_int("CLEANROOM_VERIFY_MAX_BYTES", 50 * 1024 * 1024)
CLEANROOM_VERIFY_MAX_PIXELS = env_int("CLEANROOM_VERIFY_MAX_PIXELS", 4096 * 4096)
# An upload the API queues for an `audit` worker (no manifest settles it) waits in this private
# spool (0700, files 0600, named by the verification's id), never in the blob store of governed
# assets, and only until its verdict is stored (generation/services/verification_spool.py). The
# web process writes it and the audit workers read it: they must share this folder. All the
# uploads waiting there together stay under MAX_BYTES: past it the API answers 503
# `verify_busy` with Retry-After and stores nothing. One still there after MAX_AGE_SECONDS is
# removed by the sweeper (beat, every 5 minutes) and its verification failed `upload_expired`.
CLEANROOM_VERIFY_SPOOL_DIR = Path(env_str("CLEANROOM_VERIFY_SPOOL_DIR") or DATA_DIR / "verify-spool").resolve()
CLEANROOM_VERIFY_SPOOL_MAX_BYTES = env_int("CLEANROOM_VERIFY_SPOOL_MAX_BYTES", 2 * 1024**3)
CLEANROOM_VERIFY_SPOOL_MAX_AGE_SECONDS = env_int("CLEANROOM_VERIFY_SPOOL_MAX_AGE_SECONDS", 6 * 3600)
if CLEANROOM_VERIFY_SPOOL_MAX_BYTES < CLEANROOM_VERIFY_MAX_BYTES:
    raise ImproperlyConfigured(
        f"CLEANROOM_VERIFY_SPOOL_MAX_BYTES={CLEANROOM_VERIFY_SPOOL_MAX_BYTES} must be at least "
        f"CLEANROOM_VERIFY_MAX_BYTES={CLEANROOM_VERIFY_MAX_BYTES}, or the largest upload could never be queued"
    )
CLEANROOM_WATERMARK = {
    # rivagan | trustmark, or the dotted path of a generation.watermarks.base.WatermarkBackend subclass.
    "BACKEND": env_str("CLEANROOM_WATERMARK_BACKEND") or "rivagan",
    # rivagan: where its models run (generation/watermarks/rivagan_engines.py): auto (torch on a
    # GPU or a CPU with native bfloat16, else onnxruntime) | torch | onnxruntime; DEVICE for torch:
    # auto (the GPU when there is one) | cpu | cuda | cuda:N.
    "ENGINE": env_str("CLEANROOM_WATERMARK_ENGINE") or "auto",
    "DEVICE": env_str("CLEANROOM_WATERMARK_DEVICE") or "auto",
    # Detection also reads the marks of the backends the configured one replaced (rivagan-v1 for
    # rivagan; rivagan and rivagan-v1 for trustmark). Off only where no output was ever released
    # under them: their decoder passes are the larger part of checking an image that is not ours.
    "READ_OLDER_MARKS": env_bool("CLEANROOM_WATERMARK_READ_OLDER_MARKS", True),
    # trustmark: the operator's copy of TrustMark's files (never downloaded), one variant of Q/P/B/C.
    "TRUSTMARK_MODEL_DIR": env_str("CLEANROOM_TRUSTMARK_MODEL_DIR") or "",
    "TRUSTMARK_VARIANT": env_str("CLEANROOM_TRUSTMARK_VARIANT") or "Q",
    # Files whose MD5 is not in trustmark's published list are refused unless this is on.
    "TRUSTMARK_ALLOW_UNPUBLISHED": env_bool("CLEANROOM_TRUSTMARK_ALLOW_UNPUBLISHED", False),
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
_BROKER_DIR = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    # Redis redelivers an unacknowledged task after this long: above the longest task's limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # outcomes live in the database rows, not a result backend
# Queue names may carry a prefix, so several instances (or test runs) can share one broker.
CLEANROOM_QUEUE_PREFIX = env_str("CLEANROOM_QUEUE_PREFIX") or ""
CELERY_TASK_DEFAULT_QUEUE = f"{CLEANROOM_QUEUE_PREFIX}default"
CELERY_TASK_ROUTES = {
    "auditing.*": {"queue": f"{CLEANROOM_QUEUE_PREFIX}audit"},
    "training.*": {"queue": f"{CLEANROOM_QUEUE_PREFIX}gpu"},
    # Reading a stripped copy's watermark and fingerprint is CPU work: the audit workers do it,
    # and they share the verify spool with the web process, so its sweeper runs there too.
    "generation.verify": {"queue": f"{CLEANROOM_QUEUE_PREFIX}audit"},
    "generation.sweep_verify_uploads": {"queue": f"{CLEANROOM_QUEUE_PREFIX}audit"},
    # A verification's signed report: signed where the exports are, never by the web process.
    "generation.verification_report": {"queue": f"{CLEANROOM_QUEUE_PREFIX}default"},
    "generation.*": {"queue": f"{CLEANROOM_QUEUE_PREFIX}gpu"},
}
# Long CPU work: take one message at a time and acknowledge it only when done. Whether a worker
# that dies mid-task hands the message back depends on how it dies and on the broker:
# - only its pool process dies (killed, out of memory) while the worker itself lives: the worker
#   puts the message back on every broker (task_reject_on_worker_lost), the embedded one too;
# - the worker itself dies (SIGKILL, a lost node): RabbitMQ redelivers when its connection
#   closes (at once on a kill; a vanished node after the AMQP heartbeat); Redis after the
#   visibility timeout (above: 2 h); the embedded folder broker never (it deleted the message
#   file when the worker fetched it, and the copy it kept died with the worker).
# A redelivered message finds its row claimed by its own task id and fails it as `worker_lost`
# (core/state.py: StateMachine.claim); where none comes back, the row's heartbeat lets the
# reconciler recover it (CLEANROOM_HEARTBEAT_*, above).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CLEANROOM_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = env_int("CLEANROOM_TASK_TIME_LIMIT", 660)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Beat: a reconciler pass every 15 s (core.reconcile: every kind under one advisory lock; a few
# indexed queries when nothing is stuck), so a stopped heartbeat is noticed within 15 s of its
# timeout; consents whose expiry passed recorded as expired, tainting the snapshots that hold
# them (provenance.services.consent.consent_expire_due, under an advisory lock of its own); and
# the verify spool swept of uploads no verification needs any more (verify_uploads_sweep, likewise).
CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "core.reconcile", "schedule": 15.0},
    "expire-consents": {"task": "provenance.expire_consents", "schedule": 300.0},
    "sweep-verify-uploads": {"task": "generation.sweep_verify_uploads", "schedule": 300.0},
    "sweep-upload-sessions": {"task": "provenance.sweep_upload_sessions", "schedule": 3600.0},
}

# An API token works this long after it is issued (then the client logs in again); it can be
# revoked sooner (`DELETE /api/v1/auth/token/`, `user revoke-tokens`). Only its digest is stored.
CLEANROOM_TOKEN_TTL_HOURS = env_int("CLEANROOM_TOKEN_TTL_HOURS", 30 * 24)
if CLEANROOM_TOKEN_TTL_HOURS < 1:
    raise ImproperlyConfigured(f"CLEANROOM_TOKEN_TTL_HOURS={CLEANROOM_TOKEN_TTL_HOURS} must be at least 1")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: every view names its own permission classes.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",  # adds the framework's error responses
    # DRF's parsers, with JSON nesting bounded (CLEANROOM_JSON_MAX_DEPTH) and a multipart parser
    # that refuses an upload it could not read whole (core/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "core.api.parsers.MultiPartParser",
    ],
    # JSON only, as the schema says: DRF's browsable HTML pages carry inline script, which the
    # Content-Security-Policy refuses; the API's face for a browser is /api/v1/docs/.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # ?limit=&offset=, 100 a page unless asked, never more than CLEANROOM_API_MAX_PAGE_SIZE.
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    # Throttles key on core.client_ip; this keeps DRF's own get_ident in step with it.
    "NUM_PROXIES": CLEANROOM_TRUSTED_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("CLEANROOM_AUTH_THROTTLE") or "20/minute",
        "verify": env_str("CLEANROOM_VERIFY_THROTTLE") or "30/minute",
        "verify_poll": env_str("CLEANROOM_VERIFY_POLL_THROTTLE") or "120/minute",
    },
}

# The largest page any list answers; a larger ?limit= is cut to it.
CLEANROOM_API_MAX_PAGE_SIZE = env_int("CLEANROOM_API_MAX_PAGE_SIZE", 1000)

SPECTACULAR_SETTINGS = {
    "TITLE": "Cleanroom API",
    "DESCRIPTION": "Consent, provenance and dataset governance for generative image AI.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per status set that several components share (else spectacular names it by hash).
    "ENUM_NAME_OVERRIDES": {"TrainingRunStatusEnum": "training.models.RunStatus"},
}

# plain: one line of text per record; json: one JSON object per line (time, level, logger,
# message, request_id, task_id, exception), for a log collector. Production defaults to json.
CLEANROOM_LOG_FORMAT = env_str("CLEANROOM_LOG_FORMAT") or "plain"
if CLEANROOM_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"CLEANROOM_LOG_FORMAT={CLEANROOM_LOG_FORMAT!r} must be plain or json")


def logging_config(log_format: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "core.logs.ContextFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "core.logs.JsonFormatter"},
        },
        # stderr only: stdout belongs to the CLI's JSON document.
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["stderr"], "level": env_str("CLEANROOM_LOG_LEVEL") or "WARNING"},
    }


LOGGING = logging_config(CLEANROOM_LOG_FORMAT)

# --- Operations: the web server, workers, probes and metrics (`cleanroom web|worker|beat|health`) ---
# CLEANROOM_PROCESS (web | worker | beat) is read with the signer settings above.
CLEANROOM_WEB_BIND = env_str("CLEANROOM_WEB_BIND") or "127.0.0.1:8000"
CLEANROOM_WEB_WORKERS = env_int("CLEANROOM_WEB_WORKERS", 2)
CLEANROOM_WEB_TIMEOUT = env_int("CLEANROOM_WEB_TIMEOUT", 60)
# Processes per worker, by queue: audit work is CPU-bound (one per core); a GPU holds one task.
CLEANROOM_WORKER_CONCURRENCY = {
    "audit": env_int("CLEANROOM_WORKER_CONCURRENCY_AUDIT", os.cpu_count() or 1),
    "default": env_int("CLEANROOM_WORKER_CONCURRENCY_DEFAULT", 2),
    "gpu": env_int("CLEANROOM_WORKER_CONCURRENCY_GPU", 1),
}
# The queues this worker serves: the default of `cleanroom worker --queues` (the flag wins), and
# what `cleanroom health --ready` reads in the worker's container to know whether it signs.
# Unset: every queue (one machine); set but empty: `cleanroom worker` refuses it (exit 2).
CLEANROOM_WORKER_QUEUES = env_list("CLEANROOM_WORKER_QUEUES", ["default", "audit", "gpu"])
# The queues whose tasks sign as the organisation, so only their workers hold the signing key and
# only they are unready without it. `default`: core.run_background_job (exports, compliance
# packs, signed snapshot manifests) and generation.verification_report; `gpu`: training.train
# (model lineage) and generation.run_job / run_batch (generated outputs). The audit queue only reads.
CLEANROOM_SIGNING_QUEUES = ["default", "gpu"]
# A worker's consumer touches this file every CLEANROOM_WORKER_LIVENESS_SECONDS (core/liveness.py);
# `cleanroom health` in a worker fails once it is 3 intervals old.
CLEANROOM_WORKER_LIVENESS_SECONDS = env_int("CLEANROOM_WORKER_LIVENESS_SECONDS", 10)
if CLEANROOM_WORKER_LIVENESS_SECONDS < 1:
    raise ImproperlyConfigured(f"CLEANROOM_WORKER_LIVENESS_SECONDS={CLEANROOM_WORKER_LIVENESS_SECONDS} must be at least 1")
CLEANROOM_WORKER_LIVENESS_FILE = env_str("CLEANROOM_WORKER_LIVENESS_FILE") or str(DATA_DIR / "worker.alive")
# GET /metrics: this bearer token when set; otherwise loopback clients only.
CLEANROOM_METRICS_TOKEN = env_secret("CLEANROOM_METRICS_TOKEN") or ""
# Functions yielding Prometheus metric families, read from the database at each scrape.
CLEANROOM_METRICS_SOURCES = [
    "provenance.metrics.provenance_metrics",
    "auditing.metrics.auditing_metrics",
    "training.metrics.training_metrics",
    "generation.metrics.generation_metrics",
]

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# The Content-Security-Policy of every response (core/csp.py; Django 6.0's setting, in its form).
# Scripts and styles only from this server's own files, never inline: a page that needs code
# puts it in a static file. Images also as data: URLs (Swagger UI's icons).
SECURE_CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
