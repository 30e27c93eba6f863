"""lms.config.load reads only the environ it is given; bad settings stop the application with a clear error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lms import config as config_module
from lms.config import ConfigError, load

GOOD_KEY = "k" * 32


@pytest.fixture
def instance(tmp_path) -> Path:
    return tmp_path / "instance"


def env(instance: Path, **values: str) -> dict[str, str]:
    return {"LMS_INSTANCE_PATH": str(instance), **values}


# ---------------------------------------------------------------- LMS_ENV


def test_default_environment_is_development(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY))
    assert config["LMS_ENV"] == "development"
    assert config["TESTING"] is False


@pytest.mark.parametrize("name", ["development", "production", "testing"])
def test_known_environments(instance, name):
    config = load(env(instance, LMS_ENV=name, SECRET_KEY=GOOD_KEY))
    assert config["LMS_ENV"] == name
    assert config["TESTING"] is (name == "testing")


@pytest.mark.parametrize("value", ["prod", "Production", "staging", " production"])
def test_unknown_environment_is_refused(instance, value):
    with pytest.raises(ConfigError, match="LMS_ENV"):
        load(env(instance, LMS_ENV=value, SECRET_KEY=GOOD_KEY))


def test_lms_env_override_wins_over_the_environment(instance):
    config = load(env(instance, LMS_ENV="development", SECRET_KEY=GOOD_KEY), {"LMS_ENV": "production"})
    assert config["LMS_ENV"] == "production"
    assert config["TESTING"] is False
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load(env(instance), {"LMS_ENV": "production"})


# ---------------------------------------------------------------- SECRET_KEY


@pytest.mark.parametrize("key", [None, ""])
def test_production_requires_a_secret_key(instance, key):
    environ = env(instance, LMS_ENV="production")
    if key is not None:
        environ["SECRET_KEY"] = key
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load(environ)
    assert not (instance / "secret_key").exists()


def test_production_refuses_a_short_secret_key(instance):
    with pytest.raises(ConfigError, match="at least 32"):
        load(env(instance, LMS_ENV="production", SECRET_KEY="k" * 31))


def test_production_accepts_a_long_secret_key(instance):
    config = load(env(instance, LMS_ENV="production", SECRET_KEY=GOOD_KEY))
    assert config["SECRET_KEY"] == GOOD_KEY
    assert not (instance / "secret_key").exists()


def test_development_accepts_a_short_explicit_key(instance):
    assert load(env(instance, SECRET_KEY="short"))["SECRET_KEY"] == "short"


@pytest.mark.parametrize("name", ["development", "testing"])
def test_development_generates_a_key_file_once_and_reuses_it(instance, name):
    assert not instance.exists()
    first = load(env(instance, LMS_ENV=name))
    key_file = instance / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first["SECRET_KEY"]) >= 32

    second = load(env(instance, LMS_ENV=name))
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert key_file.read_text().strip() == first["SECRET_KEY"]


def test_generated_keys_differ_between_instances(tmp_path):
    one = load(env(tmp_path / "one"))["SECRET_KEY"]
    two = load(env(tmp_path / "two"))["SECRET_KEY"]
    assert one != two


def test_an_explicit_key_does_not_write_a_key_file(instance):
    load(env(instance, SECRET_KEY=GOOD_KEY))
    assert not (instance / "secret_key").exists()


# ---------------------------------------------------------------- DATABASE_URL


def test_database_defaults_to_sqlite_in_the_instance_folder(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY))
    assert config["DATABASE_URL"] == f"sqlite:///{instance.resolve() / 'lms.sqlite3'}"
    assert config["INSTANCE_PATH"] == str(instance.resolve())
    assert instance.is_dir()


def test_instance_path_defaults_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load({"SECRET_KEY": GOOD_KEY})
    assert config["INSTANCE_PATH"] == str((tmp_path / "instance").resolve())
    assert config["MAIL_OUTBOX"] == str((tmp_path / "instance" / "outbox").resolve())


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u:p@db.example:5432/lms", "postgresql+psycopg://u:p@db.example:5432/lms"),
    ("postgresql://u:p@db.example/lms?sslmode=require", "postgresql+psycopg://u:p@db.example/lms?sslmode=require"),
    ("postgresql+psycopg://u@db/lms", "postgresql+psycopg://u@db/lms"),
    ("sqlite:////srv/lms/lms.sqlite3", "sqlite:////srv/lms/lms.sqlite3"),
])
def test_database_url_is_given_the_psycopg_driver(instance, given, expected):
    assert load(env(instance, SECRET_KEY=GOOD_KEY, DATABASE_URL=given))["DATABASE_URL"] == expected


def test_database_url_override_wins(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY, DATABASE_URL="sqlite:///a"), {"DATABASE_URL": "postgres://x/y"})
    assert config["DATABASE_URL"] == "postgresql+psycopg://x/y"


# ---------------------------------------------------------------- numbers and choices


@pytest.mark.parametrize("name", ["LMS_TRUSTED_PROXIES", "LMS_SESSION_HOURS", "MAIL_SMTP_PORT"])
@pytest.mark.parametrize("value", ["two", "1.5", "1e3"])
def test_whole_numbers_are_checked(instance, name, value):
    with pytest.raises(ConfigError, match=name):
        load(env(instance, SECRET_KEY=GOOD_KEY, **{name: value}))


def test_whole_numbers_are_read(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY, LMS_TRUSTED_PROXIES="2", LMS_SESSION_HOURS="3",
                      MAIL_SMTP_PORT="2525"))
    assert config["TRUSTED_PROXIES"] == 2
    assert config["PERMANENT_SESSION_LIFETIME"] == 3 * 3600
    assert config["MAIL_SMTP_PORT"] == 2525


def test_defaults(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY))
    assert config["TRUSTED_PROXIES"] == 0
    assert config["PERMANENT_SESSION_LIFETIME"] == 12 * 3600
    assert config["MAIL_SMTP_PORT"] == 587
    assert config["MAIL_SMTP_SECURITY"] == "starttls"
    assert config["MAIL_SMTP_HOST"] is None
    assert config["BASE_URL"] == "http://127.0.0.1:5000"
    assert config["LOG_LEVEL"] == "INFO"


@pytest.mark.parametrize("value", ["tls", "yes", "ssl3", "smtps"])
def test_bad_mail_security_is_refused(instance, value):
    with pytest.raises(ConfigError, match="MAIL_SMTP_SECURITY"):
        load(env(instance, SECRET_KEY=GOOD_KEY, MAIL_SMTP_SECURITY=value))


@pytest.mark.parametrize(("value", "expected"), [("SSL", "ssl"), ("none", "none"), ("StartTLS", "starttls")])
def test_mail_security_is_case_insensitive(instance, value, expected):
    assert load(env(instance, SECRET_KEY=GOOD_KEY, MAIL_SMTP_SECURITY=value))["MAIL_SMTP_SECURITY"] == expected


# ---------------------------------------------------------------- base URL and cookies


def test_https_base_url_makes_cookies_secure(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY, LMS_BASE_URL="https://training.pnd.example/"))
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["PREFERRED_URL_SCHEME"] == "https"
    assert config["BASE_URL"] == "https://training.pnd.example"  # no trailing slash


def test_http_base_url_keeps_cookies_usable_locally(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY, LMS_BASE_URL="http://localhost:5000"))
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["PREFERRED_URL_SCHEME"] == "http"


def test_empty_values_count_as_unset(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY, LMS_BASE_URL="", LMS_TRUSTED_PROXIES="", LMS_ENV=""))
    assert config["BASE_URL"] == "http://127.0.0.1:5000"
    assert config["TRUSTED_PROXIES"] == 0
    assert config["LMS_ENV"] == "development"


def test_overrides_are_applied_last(instance):
    config = load(env(instance, SECRET_KEY=GOOD_KEY), {"PAGE_SIZE": 5, "INVITATION_DAYS": 1})
    assert config["PAGE_SIZE"] == 5
    assert config["INVITATION_DAYS"] == 1


def test_load_reads_os_environ_when_given_none(instance, monkeypatch):
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("LMS_BASE_URL", "https://from-os-environ.example")
    assert load()["BASE_URL"] == "https://from-os-environ.example"


def test_every_setting_is_documented_with_help():
    names = [s.name for s in config_module.SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.help for s in config_module.SETTINGS)


# ---------------------------------------------------------------- the application


def test_create_app_refuses_production_without_a_secret_key(instance, monkeypatch):
    from lms import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{instance / 'x.sqlite3'}")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"LMS_ENV": "production", "INSTANCE_PATH": str(instance)})


def test_create_app_in_production_with_a_key(instance, monkeypatch):
    from lms import create_app

    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("LMS_BASE_URL", "https://training.pnd.example")
    app = create_app({"LMS_ENV": "production", "DATABASE_URL": f"sqlite:///{instance / 'x.sqlite3'}"})
    assert app.config["LMS_ENV"] == "production"
    assert app.config["SECRET_KEY"] == GOOD_KEY
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not app.testing


@pytest.mark.parametrize(("name", "value"), [("LMS_TRUSTED_PROXIES", "-1"), ("LMS_SESSION_HOURS", "0"),
                                             ("LMS_SESSION_HOURS", "-3")])
def test_numbers_below_their_minimum_are_refused(instance, name, value):
    with pytest.raises(ConfigError, match=name):
        load(env(instance, **{name: value}))


def test_production_checks_a_key_given_as_an_override_too(instance):
    with pytest.raises(ConfigError, match="at least 32"):
        load(env(instance, LMS_ENV="production"), overrides={"SECRET_KEY": "short"})


def test_an_empty_key_file_is_refused_not_used(instance):
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="no usable key"):
        load(env(instance))


def test_rate_limits_are_on_in_an_app_made_after_one_with_them_off(tmp_path):
    from lms import create_app
    from lms.extensions import limiter

    base = {"LMS_ENV": "testing", "SECRET_KEY": "k" * 40, "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    create_app({**base, "RATELIMIT_ENABLED": False})
    assert limiter.enabled is False
    app = create_app(base)
    assert limiter.enabled is True and app.config["RATELIMIT_ENABLED"] is True
