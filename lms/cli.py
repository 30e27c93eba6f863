"""The `lms` command: database set-up, user administration and demo data. Same configuration as the web app."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from lms.db import db
from lms.errors import DomainError

DEMO_ACCOUNTS = (
    # email, display name, role, password (printed by `lms demo`; refused in production)
    ("admin@pnd.example", "Alex Admin", "admin", "demo-admin-password"),
    ("supervisor@pnd.example", "Sam Supervisor", "supervisor", "demo-supervisor-password"),
    ("trainee@pnd.example", "Taylor Trainee", "trainee", "demo-trainee-password"),
)


def _create_app(*_: object):
    from lms import create_app

    return create_app()


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, add_default_commands=True, add_version_option=False,
                     help="Project New Day facilitator training.")
    cli.main(prog_name="lms")


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _require_schema() -> None:
    """Commands that use the database need it at the newest schema: say so plainly instead of a traceback."""
    from lms.migrate import current_revision, head_revision

    try:
        current = current_revision()
    except Exception as exc:  # unreachable server, bad URL, unreadable file
        _fail(f"cannot open the database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    if current != head_revision():
        _fail(f"the database schema is {'missing' if current is None else 'at ' + current}, not the newest; "
              "run `lms init-db` first")


def _user(email: str):
    from lms.accounts import services

    user = services.find_user_by_email(email)
    if user is None:
        _fail(f"no user with the e-mail {email}")
    return user


def _read_content():
    from flask import current_app

    from lms.content import load

    root = Path(current_app.config["CONTENT_DIR"])
    return load(root / "courses", root / "quizzes")


def register(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db() -> None:
        """Create the database or upgrade it to the newest schema."""
        from lms.certification.badges import ensure_issuer_key
        from lms.migrate import upgrade

        before, after = upgrade()
        if before == after:
            click.echo(f"Database is up to date (revision {after}).")
        else:
            click.echo(f"Database upgraded from {before or 'empty'} to {after}.")
        click.echo(ensure_issuer_key())  # the Open Badges signing key: made once, kept in the instance folder

    @app.cli.command("db-revision")
    @click.argument("message")
    def db_revision(message) -> None:
        """For developers: write a new migration from the difference between the models and the database."""
        from lms.migrate import revision

        revision(message)

    @app.cli.command("check-content")
    def check_content() -> None:
        """Validate courses/, the program file and quiz references; list every problem as path:line: message."""
        content = _read_content()
        for problem in content.problems:
            click.echo(str(problem), err=True)
        if content.problems:
            click.echo(f"{len(content.problems)} problem(s) found.", err=True)
            sys.exit(1)
        lessons = sum(len(c.lessons) for c in content.courses)
        questions = sum(len(q.questions) for q in content.quizzes)
        click.echo(f"Content is valid: {len(content.courses)} courses, {lessons} lessons, "
                   f"{len(content.quizzes)} quizzes ({questions} questions)"
                   + (f", program {content.program.title} version {content.program.version}." if content.program
                      else "."))

    @app.cli.command("load-content")
    @click.option("--dry-run", is_flag=True, help="Print what would change and change nothing.")
    def load_content(dry_run) -> None:
        """Validate the content, then bring the database in line with it, all or nothing."""
        from lms.content_sync import sync_content

        _require_schema()
        content = _read_content()
        if content.problems:
            for problem in content.problems:
                click.echo(str(problem), err=True)
            _fail(f"{len(content.problems)} problem(s) in the content; nothing was loaded")
        try:
            changes = sync_content(content, actor=None)
        except DomainError as exc:
            _fail(f"{exc.detail}; nothing was loaded")
        for line in changes:
            click.echo(("would change: " if dry_run else "") + line)
        if dry_run:
            db.session.rollback()
            click.echo(f"Dry run: {len(changes)} change(s) would be made; nothing was written.")
        else:
            db.session.commit()
            click.echo(f"Content loaded: {len(changes)} change(s)." if changes else "Content is already up to date.")

    @app.cli.command("import-gift")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--quiz", "slug", required=True, help="The quiz's slug: writes quizzes/<slug>.yaml.")
    @click.option("--title", help="The quiz's title (default: from the file name).")
    @click.option("--force", is_flag=True, help="Replace quizzes/<slug>.yaml if it exists.")
    def import_gift(file, slug, title, force) -> None:
        """Convert a Moodle GIFT file to quizzes/<slug>.yaml; list every problem as path:line: message."""
        import re

        import yaml
        from flask import current_app

        from lms.content.gift import parse_gift

        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
            raise click.ClickException(f"'{slug}' is not a slug: use lower-case letters, digits and single hyphens")
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"{file} is not UTF-8 text (byte {exc.start}); nothing was written") from None
        data, problems = parse_gift(text, file)
        for problem in problems:
            click.echo(str(problem), err=True)
        if problems:
            raise click.ClickException(f"{len(problems)} problem(s) in {file}; nothing was written")
        if not data["questions"]:
            raise click.ClickException(f"{file} has no questions; nothing was written")
        relative = f"quizzes/{slug}.yaml"
        target = Path(current_app.config["CONTENT_DIR"]) / relative
        if target.exists() and not force:
            raise click.ClickException(f"{relative} already exists; use --force to replace it")
        quiz = {"title": title or data["title"], "pass_mark": 80, "shuffle_questions": True, "shuffle_options": True,
                "review": {"show": "answers", "when": "after_submit"}, "questions": data["questions"]}
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(quiz, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
        if target.with_suffix(".gift").exists():
            click.echo(f"Note: quizzes/{slug}.gift exists too; remove one of the two files.", err=True)
        count = len(data["questions"])
        click.echo(f"Wrote {relative}: {count} question{'' if count == 1 else 's'}.")

    @app.cli.command("run-maintenance")
    def run_maintenance() -> None:
        """Periodic work (run it every few minutes from cron or a timer): close quiz attempts whose time ran out,
        note expired certificates and send the reminders before expiry (each once, however often or on however
        many hosts this runs; a lapsed lead steps down from their groups), keep the groups' sessions scheduled 16
        weeks ahead, and forward new learning events to the LRS when LMS_LRS_ENDPOINT is set."""
        from flask import current_app

        from lms.certification import maintenance
        from lms.quizzes.services import close_expired_attempts

        _require_schema()
        closed = close_expired_attempts()
        db.session.commit()
        click.echo(f"Closed {closed} quiz attempt(s) whose time ran out.")
        result = maintenance.run()
        db.session.commit()
        click.echo(result.summary())
        from lms.groups.services import extend_schedules

        made = extend_schedules()
        db.session.commit()
        if made:  # quiet on most runs: the horizon moves a week at a time
            click.echo(f"Scheduled {made} group session(s) ahead.")
        if current_app.config.get("LRS_ENDPOINT"):
            from lms.records.lrs import forward_statements

            forwarded = forward_statements()
            click.echo(forwarded.summary(), err=bool(forwarded.error))

    @app.cli.command("forward-statements")
    @click.option("--retry-now", is_flag=True, help="Try at once even while waiting after a failure.")
    def forward_statements_command(retry_now) -> None:
        """Send the learning events the LRS has not acknowledged yet as xAPI statements (LMS_LRS_ENDPOINT)."""
        from flask import current_app

        from lms.records.lrs import forward_statements

        _require_schema()
        if not current_app.config.get("LRS_ENDPOINT"):
            _fail("LRS forwarding is off: set LMS_LRS_ENDPOINT (and LMS_LRS_USERNAME, LMS_LRS_PASSWORD)")
        result = forward_statements(retry_now=retry_now)
        if result.error:
            _fail(result.summary())
        click.echo(result.summary())

    @app.cli.command("export-records")
    @click.option("--format", "fmt", type=click.Choice(["csv", "xapi"]), default="csv", show_default=True,
                  help="CSV of one kind of record, or every learning event as a JSON array of xAPI statements.")
    @click.option("--kind", type=click.Choice(["completions", "attempts"]),
                  help="With --format csv: course completions (default) or quiz attempts.")
    @click.option("--since", help="Only records from this date on (YYYY-MM-DD, UTC).")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path),
                  help="Write to this file instead of standard output.")
    def export_records(fmt, kind, since, output) -> None:
        """Export the learning record, streamed (any size, little memory); see docs/operations.md for columns."""
        from lms.records import export

        try:
            since_at = export.parse_since(since)
            fmt, kind = export.check_params(fmt, kind)
        except export.ExportError as exc:
            raise click.UsageError(str(exc)) from None
        _require_schema()
        chunks = export.stream(fmt, kind, since_at)
        if output is None:
            for chunk in chunks:
                click.echo(chunk, nl=False)
        else:
            # Written beside the target and renamed at the end: a failed export leaves no half file.
            partial = output.with_name(output.name + ".partial")
            try:
                with partial.open("w", encoding="utf-8", newline="") as fh:
                    for chunk in chunks:
                        fh.write(chunk)
                partial.replace(output)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        export.note_export(None, fmt, kind, since_at)
        db.session.commit()
        if output is not None:
            click.echo(f"Wrote {output}.", err=True)

    @app.cli.command("verify-audit")
    @click.option("--expect-head", metavar="SEQ:HASH",
                  help="A head printed earlier (by this command or `lms backup`) that must still be in the chain.")
    def verify_audit(expect_head) -> None:
        """Check the audit trail's hash chain; name each entry edited, deleted, inserted or moved, and exit 1 if any.
        Prints the head (SEQ:HASH): keep a copy elsewhere and pass it back with --expect-head later."""
        from lms.audit import parse_head, verify_chain

        expected = None
        if expect_head:
            try:
                expected = parse_head(expect_head)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--expect-head") from None
        _require_schema()
        report = verify_chain(db.engine, expect_head=expected)
        for problem in report.problems:
            click.echo(str(problem), err=True)
        if not report.ok:
            more = report.problem_count - len(report.problems)
            if more:
                click.echo(f"... and {more} more.", err=True)
            _fail(f"the audit trail does not verify: {report.problem_count} problem(s) among {report.entries} "
                  "entries")
        click.echo(f"Audit trail OK: {report.entries} entries, head {report.head_text}"
                   + (f"; the expected head {expected[0]} is in the chain." if expected else "."))

    @app.cli.command("backup")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                  help="The file to write (default: instance/backups/lms-<UTC time>.sqlite3, or .dump on PostgreSQL).")
    def backup_command(output) -> None:
        """Copy the database to a file while the site keeps running (SQLite: online backup API; PostgreSQL:
        pg_dump --format=custom). Prints the file, its size and the audit head it holds."""
        from flask import current_app

        from lms import audit, backup
        from lms.migrate import current_revision, head_revision

        url = current_app.config["DATABASE_URL"]
        try:
            path = output or backup.default_path(url, Path(current_app.instance_path) / "backups")
            result = backup.backup(url, path)
        except backup.BackupError as exc:
            _fail(str(exc))
        click.echo(f"Wrote {result.path} ({result.size} bytes); audit head {result.head_text}.")
        # Noted in the live trail afterwards, so not in the file it describes; it names the head the file holds.
        if result.head is not None and current_revision() == head_revision():
            audit.record(None, "backup.created", None, file=str(result.path), bytes=result.size,
                         audit_head=result.head_text)
            db.session.commit()

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Replace a database that already holds data (back it up first).")
    def restore_command(path, force) -> None:
        """Replace the database with a backup made by `lms backup`, then check its schema revision and audit trail.
        Refuses a database that holds data unless --force; a damaged or missing file changes nothing."""
        from flask import current_app

        from lms import audit, backup

        url = current_app.config["DATABASE_URL"]
        db.session.remove()
        db.engine.dispose()  # hold no connection while the database changes underneath
        try:
            result = backup.restore(url, path, force=force)
        except backup.BackupError as exc:
            _fail(str(exc))
        click.echo(f"Restored {result.source} into {result.target}.")
        if not result.schema_current:
            click.echo(f"The restored schema is at revision {result.revision or 'none'}; this code expects "
                       f"{result.expected_revision}: run `lms init-db`, then `lms verify-audit`.")
            return
        chain = result.chain
        assert chain is not None
        # The restore itself goes into the restored trail: what happened after the backup is gone, and this says so.
        audit.record(None, "database.restored", None, file=str(result.source), audit_head=chain.head_text)
        db.session.commit()
        if not chain.ok:
            for problem in chain.problems:
                click.echo(str(problem), err=True)
            _fail(f"the restored audit trail does not verify: {chain.problem_count} problem(s) among "
                  f"{chain.entries} entries")
        click.echo(f"Schema at revision {result.revision}. Audit trail OK: {chain.entries} entries, head "
                   f"{chain.head_text}.")

    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--name", required=True, help="Display name.")
    @click.option("--role", type=click.Choice(["trainee", "supervisor", "admin"]), required=True)
    @click.option("--certificate-name", help="Name printed on certificates (default: the display name).")
    @click.option("--supervisor", "supervisor_email", help="E-mail of the trainee's supervisor.")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the password from standard input; without it an invitation is e-mailed.")
    def create_user(email, name, role, certificate_name, supervisor_email, password_stdin) -> None:
        """Add a user: with a password read from stdin, or invited by e-mail."""
        from lms.accounts import services

        _require_schema()
        supervisor = _user(supervisor_email) if supervisor_email else None
        try:
            if password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
                user = services.create_user(actor=None, email=email, display_name=name, role=role,
                                            certificate_name=certificate_name, supervisor=supervisor,
                                            password=password)
                done = f"Created {role} {user.email}."
            else:
                user = services.invite_user(actor=None, email=email, display_name=name, role=role,
                                            certificate_name=certificate_name, supervisor=supervisor)
                done = f"Created {role} {user.email} and e-mailed an invitation."
        except DomainError as exc:
            _fail(exc.detail)
        db.session.commit()
        click.echo(done)

    @app.cli.command("set-role")
    @click.argument("email")
    @click.argument("role", type=click.Choice(["trainee", "supervisor", "admin"]))
    def set_role(email, role) -> None:
        """Change a user's role."""
        from lms.accounts import services

        _require_schema()
        user = _user(email)
        try:
            services.change_role(user, role, actor=None)
        except DomainError as exc:
            _fail(exc.detail)
        db.session.commit()
        click.echo(f"{user.email} is now {role}.")

    @app.cli.command("create-token")
    @click.argument("email")
    @click.option("--name", default="command line", show_default=True, help="What the token is for.")
    @click.option("--scope", "scopes", multiple=True,
                  help="Make an integration token limited to this scope (repeatable), e.g. facilitators:read.")
    def create_token(email, name, scopes) -> None:
        """Create a personal API token (or, with --scope, an integration token) and print it once."""
        from lms.accounts import services

        _require_schema()
        user = _user(email)
        try:
            new = services.create_api_token(user, actor=None, name=name, scopes=scopes)
        except DomainError as exc:
            _fail(exc.detail)
        db.session.commit()
        click.echo(new.secret)

    @app.cli.command("assign-lead")
    @click.argument("group_id", type=int)
    @click.argument("email")
    def assign_lead(group_id, email) -> None:
        """Make a certified facilitator the lead of a group; refused, with the reasons, unless they may lead today."""
        from lms.groups import services
        from lms.groups.models import Group

        _require_schema()
        group = db.session.get(Group, group_id)
        if group is None:
            _fail(f"no group with the id {group_id}")
        user = _user(email)
        try:
            services.assign_lead(group, user, actor=None)
        except DomainError as exc:
            _fail(exc.detail)
        db.session.commit()
        click.echo(f"{user.email} now leads {group.name}.")

    @app.cli.command("demo")
    @click.option("--force", is_flag=True, help="Allow in production (never do this on a real site).")
    def demo(force) -> None:
        """Create the demo accounts if they are missing, and print how to log in."""
        from flask import current_app

        from lms.accounts import services

        _require_schema()
        if current_app.config["LMS_ENV"] == "production" and not force:
            _fail("demo accounts have known passwords; refusing in production (use --force to insist)")
        created = []
        for email, name, role, password in DEMO_ACCOUNTS:
            if services.find_user_by_email(email) is None:
                services.create_user(actor=None, email=email, display_name=name, role=role, password=password)
                created.append(email)
        supervisor = services.find_user_by_email("supervisor@pnd.example")
        trainee = services.find_user_by_email("trainee@pnd.example")
        if "trainee@pnd.example" in created and trainee and supervisor and supervisor.active:
            services.assign_supervisor(trainee, supervisor, actor=None)
        db.session.commit()
        click.echo("Demo accounts" + (f" (created now: {', '.join(created)})" if created else " (already there)")
                   + ":")
        for email, _name, role, password in DEMO_ACCOUNTS:
            click.echo(f"  {role:<11} {email:<26} password: {password}")
