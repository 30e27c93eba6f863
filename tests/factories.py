"""Test data, made through the same services the application uses."""

from __future__ import annotations

import email
import itertools
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from lms.accounts import services
from lms.accounts.models import Role, User
from lms.db import db

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_user(role: Role | str = Role.TRAINEE, *, email_address: str | None = None, name: str | None = None,
              password: str | None = PASSWORD, supervisor: User | None = None) -> User:
    n = next(_seq)
    role = Role(role)
    user = services.create_user(actor=None, email=email_address or f"{role.value}{n}@example.org",
                                display_name=name or f"{role.value.title()} {n}", role=role,
                                supervisor=supervisor, password=password)
    db.session.commit()
    return user


@dataclass
class People:
    admin: User
    supervisor: User
    other_supervisor: User
    trainee: User
    other_trainee: User


def make_people() -> People:
    admin = make_user(Role.ADMIN, email_address="admin@example.org", name="Ada Admin")
    sup = make_user(Role.SUPERVISOR, email_address="sup@example.org", name="Sam Supervisor")
    other_sup = make_user(Role.SUPERVISOR, email_address="sup2@example.org", name="Sky Supervisor")
    trainee = make_user(Role.TRAINEE, email_address="trainee@example.org", name="Tess Trainee", supervisor=sup)
    other = make_user(Role.TRAINEE, email_address="trainee2@example.org", name="Theo Trainee",
                      supervisor=other_sup)
    return People(admin, sup, other_sup, trainee, other)


class Outbox:
    """The .eml files the app wrote to instance/outbox."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def messages(self) -> list[Message]:
        if not self.folder.exists():
            return []
        return [email.message_from_bytes(p.read_bytes()) for p in sorted(self.folder.glob("*.eml"))]

    def last_to(self, address: str) -> Message:
        found = [m for m in self.messages() if m["To"] == address]
        assert found, f"no mail to {address}"
        return found[-1]

    @staticmethod
    def body(msg: Message) -> str:
        return msg.get_payload(decode=True).decode()

    def link_in_last_to(self, address: str) -> str:
        import re

        m = re.search(r"https?://\S+", self.body(self.last_to(address)))
        assert m, "no link in the mail"
        return m.group(0)
