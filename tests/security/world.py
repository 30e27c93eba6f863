"""One world of real objects for the route-walking security tests: every id a URL of the application can take is
an object that exists, most of them belonging to Tess Trainee (supervised by Sam Supervisor), so that a 404 for
someone else proves scoping rather than absence. Built through the same services the application uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.db import db
from tests import factories
from tests.certification_support import make_cert_tree, make_certificate
from tests.groups_support import TODAY, make_group

ROLES = ("anon", "trainee", "other_trainee", "supervisor", "other_supervisor", "admin")
"""Who walks the routes: nobody logged in, the owner of the world's objects, another trainee, the owner's
supervisor, another supervisor, and an administrator."""


@dataclass
class Objects:
    """Ids of one trainee's things."""

    user_id: int
    request_id: int  # issued
    entry_id: int  # confirmed
    attempt_id: int  # submitted
    serial: str  # a certificate valid today
    group_id: int  # a group they lead
    token_id: int  # a personal API token


@dataclass
class World:
    people: factories.People
    mine: Objects  # Tess Trainee's
    theirs: Objects  # Theo Trainee's (supervised by Sky Supervisor): the same things, for the other direction
    code: str  # the verification code of Tess's certificate
    open_attempt_id: int  # Tess's attempt in progress
    course: str
    lesson_slug: str
    lesson_id: int
    program: str
    spare_group_id: int  # for administrators' changes: nobody else can see it
    spare_ids: tuple[int, int]  # two trainees without a supervisor who co-facilitate the spare group
    invited_id: int  # invited, no password yet
    gone_id: int  # deactivated
    invitation: str  # Ivy's live invitation secret
    reset: str  # Tess's live password-reset secret
    secrets: dict[str, str]  # a personal API token of each person, by role name
    feed: str  # Tess's calendar feed secret
    thumbprint: str  # of the badge issuer's key
    report: str  # an administrators' CSV report
    held_day: str  # a session of Tess's group next week: not started yet
    cancel_day: str  # two weeks ahead

    def user(self, who: str) -> User | None:
        return None if who == "anon" else getattr(self.people, who)


def _attempt_of(user_id: int, *, open_: bool) -> int:
    from lms.quizzes.models import Attempt, AttemptStatus

    in_progress = Attempt.status == AttemptStatus.IN_PROGRESS
    return db.session.scalars(select(Attempt.id).where(Attempt.user_id == user_id,
                                                      in_progress if open_ else ~in_progress).order_by(Attempt.id)
                              ).first()


def _equip(app, trainee_id: int, supervisor_id: int, admin_id: int, group_name: str) -> dict:
    """A trainee certified all the way through (quiz passed, practicum confirmed, request approved and issued) who
    leads a group."""
    serial = make_certificate(app, trainee_id, supervisor_id, admin_id)
    group_id = make_group(app, admin_id, lead_id=trainee_id, name=group_name)
    return {"serial": serial, "group_id": group_id}


def _objects(user_id: int, serial: str, group_id: int, token_id: int) -> Objects:
    from lms.certification.models import CertificationRequest, PracticumEntry

    return Objects(
        user_id=user_id,
        request_id=db.session.scalar(select(CertificationRequest.id).where(CertificationRequest.user_id == user_id)),
        entry_id=db.session.scalars(select(PracticumEntry.id).where(PracticumEntry.user_id == user_id)
                                    .order_by(PracticumEntry.id)).first(),
        attempt_id=_attempt_of(user_id, open_=False), serial=serial, group_id=group_id, token_id=token_id)


def build_world(app, people: factories.People, outbox: factories.Outbox, root: Path) -> World:
    from lms.certification import badges
    from lms.certification.models import Certificate
    from lms.groups import services as groups
    from lms.learning.models import Course, Lesson, ProgramVersion
    from lms.quizzes import services as quizzes
    from lms.records import reports

    make_cert_tree(app, root)
    tess = _equip(app, people.trainee.id, people.supervisor.id, people.admin.id, "Tuesday evening group")
    theo = _equip(app, people.other_trainee.id, people.other_supervisor.id, people.admin.id, "Theo's group")
    with app.app_context():
        spares = (factories.make_user(Role.TRAINEE, email_address="spare@example.org", name="Sid Spare").id,
                  factories.make_user(Role.TRAINEE, email_address="spare2@example.org", name="Sue Spare").id)
    spare_group_id = make_group(app, people.admin.id, name="Spare group", co_ids=spares)
    with app.app_context():
        s = db.session
        trainee = s.get(User, people.trainee.id)
        quizzes.start_attempt(trainee, quizzes.get_quiz("alpha"))  # an hour after the passed one: allowed again
        invited = accounts.create_user(actor=None, email="invited@example.org", display_name="Ivy Invited",
                                       role=Role.TRAINEE)
        invitation = accounts.send_invitation(invited, actor=None)
        gone = factories.make_user(Role.TRAINEE, email_address="gone@example.org", name="Gus Gone")
        accounts.deactivate_user(s.get(User, gone.id), actor=None)
        accounts.request_password_reset(trainee.email)
        tokens = {who: accounts.create_api_token(u, actor=u, name=f"{who}'s script")
                  for who in ROLES[1:] for u in [s.get(User, getattr(people, who).id)]}
        feed = groups.rotate_feed_token(trainee, actor=trainee)
        s.commit()
        course = s.scalar(select(Course).where(Course.slug == "alpha"))
        lesson = s.scalars(select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)).first()
        cert = s.scalar(select(Certificate).where(Certificate.serial == tess["serial"]))
        world = World(
            people=people,
            mine=_objects(trainee.id, token_id=tokens["trainee"].token.id, **tess),
            theirs=_objects(people.other_trainee.id, token_id=tokens["other_trainee"].token.id, **theo),
            code=cert.verification_code, open_attempt_id=_attempt_of(trainee.id, open_=True), course=course.slug,
            lesson_slug=lesson.slug, lesson_id=lesson.id,
            program=s.scalar(select(ProgramVersion.slug).where(ProgramVersion.current.is_(True))),
            spare_group_id=spare_group_id, spare_ids=spares, invited_id=invited.id, gone_id=gone.id,
            invitation=invitation, reset="", secrets={who: t.secret for who, t in tokens.items()}, feed=feed,
            thumbprint=badges.verification_keys()[0].thumbprint(), report=next(iter(reports.CSV_REPORTS)),
            held_day=(TODAY + timedelta(days=7)).isoformat(), cancel_day=(TODAY + timedelta(days=14)).isoformat())
    world.reset = urlsplit(outbox.link_in_last_to(people.trainee.email)).path.rsplit("/", 1)[1]
    return world
