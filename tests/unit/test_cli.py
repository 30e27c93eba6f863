"""The `lms` command line: database set-up, adding people, roles, API tokens and the demo accounts."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import func, select

from lms import migrate
from lms.accounts import services
from lms.accounts.models import Role, TokenPurpose, User
from lms.audit import AuditEvent
from lms.cli import DEMO_ACCOUNTS
from lms.db import db
from tests import factories

PASSWORD = "a long enough password"


def create(runner, email="New.Person@Example.org", *extra, input=None):
    args = ["create-user", email, "--name", "Nia New", "--role", "trainee", *extra]
    return runner.invoke(args=args, input=input)


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(User)),
                db.session.scalar(select(func.count()).select_from(AuditEvent)))


def find(app, email: str) -> User | None:
    with app.app_context():
        return services.find_user_by_email(email)


@pytest.fixture
def admin(app) -> User:
    with app.app_context():
        return factories.make_user(Role.ADMIN, email_address="admin@example.org")


@pytest.fixture
def supervisor(app) -> User:
    with app.app_context():
        return factories.make_user(Role.SUPERVISOR, email_address="sup@example.org")


# ---------------------------------------------------------------- init-db


def test_init_db_is_idempotent(app, runner):
    with app.app_context(), db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")
    head = migrate.head_revision()

    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    assert f"upgraded from empty to {head}" in first.output

    second = runner.invoke(args=["init-db"])
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output
    assert head in second.output
    with app.app_context():
        assert migrate.current_revision() == head


# ---------------------------------------------------------------- create-user


def test_create_user_with_password_from_stdin(app, runner, outbox):
    result = create(runner, "New.Person@Example.org", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Created trainee new.person@example.org." in result.output
    assert PASSWORD not in result.output
    with app.app_context():
        user = services.find_user_by_email("new.person@example.org")
        assert user is not None
        assert user.display_name == "Nia New" and user.certificate_name == "Nia New"
        assert user.role is Role.TRAINEE
        assert services.authenticate("new.person@example.org", PASSWORD) == user
        created = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created"))
        assert created.actor_label == "system"
        assert created.data["with_password"] is True
    assert outbox.messages() == []


def test_create_user_keeps_a_password_with_spaces_but_drops_the_line_ending(app, runner):
    result = create(runner, "w@example.org", "--password-stdin", input=" spaced  password \r\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert services.authenticate("w@example.org", " spaced  password ") is not None


def test_create_user_with_role_certificate_name_and_supervisor(app, runner, supervisor):
    result = runner.invoke(args=["create-user", "t@example.org", "--name", "Tam", "--role", "trainee",
                                 "--certificate-name", "Tamsin Jones", "--supervisor", "SUP@example.org",
                                 "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = services.find_user_by_email("t@example.org")
        assert user.certificate_name == "Tamsin Jones"
        assert user.supervisor_id == supervisor.id


def test_create_user_without_password_emails_an_invitation(app, runner, outbox):
    result = create(runner, "invitee@example.org")
    assert result.exit_code == 0, result.output
    assert "invitation" in result.output
    user = find(app, "invitee@example.org")
    assert user is not None and not user.has_password
    msg = outbox.last_to("invitee@example.org")
    assert "invited" in msg["Subject"].lower()
    link = outbox.link_in_last_to("invitee@example.org")
    assert "/invitation/" in link

    with app.app_context():
        services.redeem_account_token(link.rsplit("/", 1)[-1], TokenPurpose.INVITATION, PASSWORD)
        db.session.commit()
        assert services.authenticate("invitee@example.org", PASSWORD) is not None


@pytest.mark.parametrize("email", ["admin@example.org", "ADMIN@Example.org"])
def test_create_user_with_a_taken_email_fails_and_creates_nothing(app, runner, admin, outbox, email):
    before = counts(app)
    result = create(runner, email, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert counts(app) == before
    invited = create(runner, email)
    assert invited.exit_code != 0
    assert "already exists" in invited.output
    assert counts(app) == before
    assert outbox.messages() == []


@pytest.mark.parametrize("password", ["short", "", "elevenchars"])
def test_create_user_with_a_short_password_fails(app, runner, password):
    result = create(runner, "s@example.org", "--password-stdin", input=password + "\n")
    assert result.exit_code != 0
    assert "at least 12" in result.output
    assert find(app, "s@example.org") is None
    assert counts(app) == (0, 0)


def test_create_user_with_an_unknown_supervisor_fails(app, runner, outbox):
    result = create(runner, "t@example.org", "--supervisor", "ghost@example.org")
    assert result.exit_code != 0
    assert "ghost@example.org" in result.output
    assert find(app, "t@example.org") is None
    assert outbox.messages() == []


def test_create_user_with_a_supervisor_who_is_not_one_fails(app, runner, admin):
    result = create(runner, "t@example.org", "--supervisor", admin.email, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code != 0
    assert "not an active supervisor" in result.output
    assert find(app, "t@example.org") is None


def test_create_user_with_a_bad_email_or_role_fails(app, runner):
    bad_email = create(runner, "not-an-address", "--password-stdin", input=PASSWORD + "\n")
    assert bad_email.exit_code != 0
    assert "E-mail address" in bad_email.output
    bad_role = runner.invoke(args=["create-user", "r@example.org", "--name", "R", "--role", "owner"])
    assert bad_role.exit_code != 0
    assert counts(app) == (0, 0)


# ---------------------------------------------------------------- set-role


def test_set_role(app, runner, supervisor):
    result = runner.invoke(args=["set-role", "SUP@example.org", "admin"])
    assert result.exit_code == 0, result.output
    assert "sup@example.org is now admin" in result.output
    with app.app_context():
        user = services.find_user_by_email("sup@example.org")
        assert user.role is Role.ADMIN
        entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.role_changed"))
        assert entry.actor_id is None
        assert entry.data == {"from": "supervisor", "to": "admin"}


def test_set_role_for_an_unknown_email_fails(app, runner):
    result = runner.invoke(args=["set-role", "ghost@example.org", "admin"])
    assert result.exit_code != 0
    assert "no user" in result.output
    assert counts(app) == (0, 0)


def test_set_role_refuses_to_demote_the_last_admin(app, runner, admin):
    result = runner.invoke(args=["set-role", admin.email, "trainee"])
    assert result.exit_code != 0
    assert "last active administrator" in result.output
    assert find(app, admin.email).role is Role.ADMIN


# ---------------------------------------------------------------- create-token


def test_create_token_prints_a_working_token(app, runner, admin):
    result = runner.invoke(args=["create-token", "Admin@Example.org", "--name", "backup script"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("pnd_")
    assert "\n" not in secret
    with app.app_context():
        assert services.user_for_api_token(secret).id == admin.id
        tokens = services.list_api_tokens(services.find_user_by_email(admin.email))
        assert [t.name for t in tokens] == ["backup script"]
        assert tokens[0].token_hash != secret


def test_create_token_for_an_unknown_email_fails(app, runner):
    result = runner.invoke(args=["create-token", "ghost@example.org"])
    assert result.exit_code != 0
    assert "pnd_" not in result.output


def test_create_token_for_a_deactivated_user_fails(app, runner, admin):
    with app.app_context():
        user = factories.make_user(Role.TRAINEE, email_address="gone@example.org")
        services.deactivate_user(user, actor=None)
        db.session.commit()
    result = runner.invoke(args=["create-token", "gone@example.org"])
    assert result.exit_code != 0
    assert "deactivated" in result.output
    assert "pnd_" not in result.output


# ---------------------------------------------------------------- demo


def test_demo_creates_three_accounts_and_is_safe_to_run_twice(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "created now" in first.output
    for email, _name, role, password in DEMO_ACCOUNTS:
        assert email in first.output and password in first.output
        with app.app_context():
            user = services.authenticate(email, password)
            assert user is not None, email
            assert user.role is Role(role)
    with app.app_context():
        trainee = services.find_user_by_email("trainee@pnd.example")
        assert trainee.supervisor.email == "supervisor@pnd.example"
    before = counts(app)
    assert before[0] == 3

    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert "already there" in second.output
    assert counts(app) == before


def test_demo_fills_in_only_missing_accounts(app, runner):
    with app.app_context():
        factories.make_user(Role.ADMIN, email_address="admin@pnd.example")
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "(created now: supervisor@pnd.example, trainee@pnd.example)" in result.output
    assert counts(app)[0] == 3
    with app.app_context():
        # the existing account keeps its own password
        assert services.authenticate("admin@pnd.example", factories.PASSWORD) is not None
        assert services.authenticate("admin@pnd.example", "demo-admin-password") is None


def test_demo_refuses_in_production(app_factory):
    prod = app_factory(LMS_ENV="production")
    assert prod.config["LMS_ENV"] == "production"
    result = prod.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0
    assert "refusing in production" in result.output
    assert "password:" not in result.output
    assert counts(prod) == (0, 0)


def test_demo_in_production_only_with_force(app_factory):
    prod = app_factory(LMS_ENV="production")
    result = prod.test_cli_runner().invoke(args=["demo", "--force"])
    assert result.exit_code == 0, result.output
    assert counts(prod)[0] == 3
