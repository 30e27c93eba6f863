"""Settings from the environment. This module is the one reader of os.environ."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable application."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str


# Documented in README.md and docs/operations.md; keep the three in step.
SETTINGS: tuple[Setting, ...] = (
    Setting("LMS_ENV", "development", "development, production or testing"),
    Setting("SECRET_KEY", None, "signs sessions and CSRF tokens; required in production"),
    Setting("DATABASE_URL", None, "SQLAlchemy URL; default SQLite file instance/lms.sqlite3"),
    Setting("LMS_INSTANCE_PATH", None, "folder for the SQLite file, secret key, outbox; default ./instance"),
    Setting("LMS_BASE_URL", "http://127.0.0.1:5000", "public address used in e-mailed links"),
    Setting("LMS_TRUSTED_PROXIES", "0", "number of reverse proxies whose X-Forwarded-* headers to trust"),
    Setting("LMS_SESSION_HOURS", "12", "hours a login lasts without activity"),
    Setting("RATELIMIT_STORAGE_URI", "memory://", "rate-limit counters: memory:// or redis://host:port"),
    Setting("MAIL_FROM", "Project New Day training <training@localhost>", "sender of every e-mail"),
    Setting("MAIL_SMTP_HOST", None, "send mail by SMTP through this host; unset: write to the outbox"),
    Setting("MAIL_SMTP_PORT", "587", "SMTP port"),
    Setting("MAIL_SMTP_USERNAME", None, "SMTP user name"),
    Setting("MAIL_SMTP_PASSWORD", None, "SMTP password"),
    Setting("MAIL_SMTP_SECURITY", "starttls", "starttls, ssl or none"),
    Setting("LMS_LOG_LEVEL", "INFO", "logging level"),
    Setting("LMS_CONTENT_DIR", None, "folder holding courses/ and quizzes/; default the checkout"),
    Setting("LMS_EMERGENCY_NUMBER", "911", "emergency number shown in lessons"),
    Setting("LMS_CRISIS_LINE", "988 (the 988 Suicide & Crisis Lifeline: call, text or chat, free, 24/7)",
            "crisis line shown in lessons"),
    Setting("LMS_DRUG_HELPLINE", "1-800-662-4357 (SAMHSA's National Helpline)",
            "drug and alcohol helpline shown in lessons"),
    Setting("LMS_LRS_ENDPOINT", None, "xAPI LRS address; statements go to <it>/statements; unset: not forwarded"),
    Setting("LMS_LRS_USERNAME", None, "LRS HTTP Basic user name (the LRS's key)"),
    Setting("LMS_LRS_PASSWORD", None, "LRS HTTP Basic password (the LRS's secret)"),
    Setting("LMS_LRS_BATCH", "100", "statements per request to the LRS"),
    Setting("LMS_LRS_TIMEOUT", "30", "seconds to wait for the LRS to answer"),
    Setting("LMS_CERTIFICATE_PAGE_SIZE", "A4", "paper of the certificate PDF: A4 or Letter (US Letter)"),
    Setting("LMS_ISSUER_KEY_FILE", None,
            "the Open Badges signing key (a private P-256 JWK, made if missing); default instance/issuer-key.jwk"),
)

CERTIFICATE_PAGE_SIZES = ("A4", "Letter")


def _env(name: str, environ: dict[str, str]) -> str | None:
    for s in SETTINGS:
        if s.name == name:
            value = environ.get(name)
            return value if value not in (None, "") else s.default
    raise KeyError(name)


def _int(name: str, environ: dict[str, str], minimum: int = 0) -> int:
    raw = _env(name, environ)
    try:
        value = int(raw or "0")
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _secret_key(env: str, instance: Path, key: str | None) -> str:
    if key:
        if env == "production" and len(key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        return key
    if env == "production":
        raise ConfigError("SECRET_KEY is not set: production refuses to start without one")
    # Development and testing: generate once and keep it, so restarts keep people logged in.
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made earlier, or just now by a second worker starting alongside us
        key = path.read_text().strip()
        if len(key) < 32:
            raise ConfigError(f"{path} holds no usable key (under 32 characters); delete it to make a new one"
                              ) from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _lrs_endpoint(env: str, environ: dict[str, str]) -> str | None:
    from urllib.parse import urlsplit

    raw = _env("LMS_LRS_ENDPOINT", environ)
    if not raw:
        return None
    url = urlsplit(raw)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise ConfigError(f"LMS_LRS_ENDPOINT must be an http:// or https:// address without ?query, not {raw!r}")
    if (env == "production" and url.scheme == "http" and _env("LMS_LRS_PASSWORD", environ)
            and url.hostname not in ("localhost", "127.0.0.1", "::1")):
        raise ConfigError("LMS_LRS_ENDPOINT must be https:// in production: the LRS password would travel in clear")
    return raw.rstrip("/")


def _certificate_page_size(environ: dict[str, str]) -> str:
    raw = _env("LMS_CERTIFICATE_PAGE_SIZE", environ) or ""
    for size in CERTIFICATE_PAGE_SIZES:
        if raw.strip().lower() == size.lower():
            return size
    raise ConfigError(f"LMS_CERTIFICATE_PAGE_SIZE must be A4 or Letter (US Letter), not {raw!r}")


def load(environ: dict[str, str] | None = None, overrides: dict | None = None) -> dict:
    """Build the Flask config mapping from the environment plus explicit overrides (tests)."""
    environ = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    env = overrides.pop("LMS_ENV", None) or _env("LMS_ENV", environ)
    if env not in ENVIRONMENTS:
        raise ConfigError(f"LMS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    instance = Path(
        overrides.pop("INSTANCE_PATH", None) or _env("LMS_INSTANCE_PATH", environ) or Path.cwd() / "instance"
    ).resolve()

    database_url = overrides.pop("DATABASE_URL", None) or _env("DATABASE_URL", environ)
    if not database_url:
        instance.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance / 'lms.sqlite3'}"
    if database_url.startswith("postgres://"):  # the form some hosts hand out
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    base_url = (_env("LMS_BASE_URL", environ) or "").rstrip("/")
    https = base_url.startswith("https://")
    security = (_env("MAIL_SMTP_SECURITY", environ) or "starttls").lower()
    if security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"MAIL_SMTP_SECURITY must be starttls, ssl or none, not {security!r}")

    config = {
        "LMS_ENV": env,
        "TESTING": env == "testing",
        "DEBUG": False,
        "PROPAGATE_EXCEPTIONS": False,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": _secret_key(env, instance, overrides.pop("SECRET_KEY", None) or _env("SECRET_KEY", environ)),
        "DATABASE_URL": database_url,
        "BASE_URL": base_url,
        "TRUSTED_PROXIES": _int("LMS_TRUSTED_PROXIES", environ),
        "PERMANENT_SESSION_LIFETIME": _int("LMS_SESSION_HOURS", environ, minimum=1) * 3600,
        "SESSION_COOKIE_NAME": "lms_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", environ),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Said explicitly: the limiter is one object for every app in the process, and an app that leaves this
        # out inherits whatever the app before it set (a benchmark or test app with limits off).
        "RATELIMIT_ENABLED": True,
        "LOGIN_LIMIT_PER_ACCOUNT": "5 per 5 minutes",
        "LOGIN_LIMIT_PER_ADDRESS": "20 per 5 minutes",
        "VERIFY_LIMIT_PER_ADDRESS": "30 per minute",  # public certificate verification, page and API
        # No request body is larger than a certificate PDF someone checks (5 MB); werkzeug answers 413 beyond.
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "MAIL_FROM": _env("MAIL_FROM", environ),
        "MAIL_SMTP_HOST": _env("MAIL_SMTP_HOST", environ),
        "MAIL_SMTP_PORT": _int("MAIL_SMTP_PORT", environ),
        "MAIL_SMTP_USERNAME": _env("MAIL_SMTP_USERNAME", environ),
        "MAIL_SMTP_PASSWORD": _env("MAIL_SMTP_PASSWORD", environ),
        "MAIL_SMTP_SECURITY": security,
        "MAIL_OUTBOX": str(instance / "outbox"),
        "LOG_LEVEL": (_env("LMS_LOG_LEVEL", environ) or "INFO").upper(),
        "CONTENT_DIR": str(Path(_env("LMS_CONTENT_DIR", environ) or Path(__file__).resolve().parent.parent)),
        "RESOURCES": {
            "emergency_number": _env("LMS_EMERGENCY_NUMBER", environ),
            "crisis_line": _env("LMS_CRISIS_LINE", environ),
            "drug_helpline": _env("LMS_DRUG_HELPLINE", environ),
        },
        "LRS_ENDPOINT": _lrs_endpoint(env, environ),
        "LRS_USERNAME": _env("LMS_LRS_USERNAME", environ),
        "LRS_PASSWORD": _env("LMS_LRS_PASSWORD", environ),
        "LRS_BATCH": _int("LMS_LRS_BATCH", environ, minimum=1),
        "LRS_TIMEOUT": _int("LMS_LRS_TIMEOUT", environ, minimum=1),
        "CERTIFICATE_PAGE_SIZE": _certificate_page_size(environ),
        "ISSUER_KEY_FILE": str(Path(_env("LMS_ISSUER_KEY_FILE", environ) or instance / "issuer-key.jwk")
                               .expanduser().resolve()),
        "PASSWORD_HASH_METHOD": "scrypt",
        "INVITATION_DAYS": 7,
        "PASSWORD_RESET_MINUTES": 60,
        "PAGE_SIZE": 25,
        # The administrators' report page aggregates every trainee's record: kept this many seconds per worker
        # (the page says when it was computed); 0 computes it on every view. CSV downloads are always fresh.
        "REPORT_CACHE_SECONDS": 120,
    }
    config.update(overrides)
    return config
