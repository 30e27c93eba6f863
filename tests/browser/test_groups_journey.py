"""Groups in Chromium, with the facilitator and the administrator each in their own browser context: "Lead a group"
is locked until the trainee is certified, then unlocked; the administrator creates a group through the form and
assigns the new facilitator as its lead; the facilitator sees the group with its next session; the administrator
revokes the certificate; the group then shows that it needs a lead facilitator, and "Lead a group" is locked
again. Every page visited is checked with axe-core."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.db import db
from lms.groups import services as groups
from lms.groups.models import Group
from tests.browser.support import Pages, follow, log_in, submit, visit
from tests.certification_support import make_cert_tree, make_certificate
from tests.factories import PASSWORD, People
from tests.groups_support import T0, TODAY, ZOOM, make_group


@pytest.fixture
def program(app, tmp_path) -> None:
    make_cert_tree(app, tmp_path / "content")


def lead_state(page: Page):
    return page.locator("#lead-state")


def test_a_newly_certified_facilitator_leads_a_group_until_the_certificate_is_revoked(
        app, pages: Pages, people: People, program):
    trainee, admin = pages.new(), pages.new()

    # --- the trainee, not certified yet: "Lead a group" is locked, and says why
    log_in(trainee, people.trainee.email, PASSWORD)
    follow(trainee, trainee.get_by_role("navigation").get_by_role("link", name="Lead a group"))
    expect(trainee.get_by_role("heading", level=1)).to_have_text("Lead a group")
    expect(lead_state(trainee)).to_contain_text("Locked for now")
    expect(lead_state(trainee)).to_contain_text("Not certified yet")
    expect(lead_state(trainee).get_by_role("link", name="See your certification checklist")).to_be_visible()

    # certified (through the same services the pages use): unlocked on the next visit
    serial = make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    visit(trainee, "/lead")
    expect(lead_state(trainee)).to_contain_text("Unlocked: you may lead community sessions.")
    expect(lead_state(trainee)).to_contain_text(serial)
    expect(trainee.get_by_text("You do not lead or co-facilitate a group yet.")).to_be_visible()

    # --- the administrator creates a group through the form; a mistake is shown next to its field first
    log_in(admin, people.admin.email, PASSWORD)
    follow(admin, admin.get_by_role("navigation").get_by_role("link", name="Groups"))
    expect(admin.get_by_text("There are no groups yet.")).to_be_visible()
    follow(admin, admin.get_by_role("link", name="Create a group").first)
    expect(admin.get_by_role("heading", level=1)).to_have_text("Create a group")
    admin.get_by_label("Name of the group").fill("Thursday evening group")
    admin.get_by_label("Description (optional)").fill("For people in their first year after leaving drugs behind.")
    admin.get_by_label("Day of the week").select_option(label="Thursday")
    admin.get_by_label("Start time (local)").fill("19:00")
    admin.get_by_label("Length in minutes").fill("90")
    admin.get_by_label("Time zone").fill("Europe/Londres")
    admin.get_by_label("Zoom meeting link").fill(ZOOM)
    admin.get_by_label("Places").fill("12")
    submit(admin, admin.get_by_role("button", name="Create the group"))
    expect(admin.get_by_role("alert")).to_contain_text("Please correct the following")
    expect(admin.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
    admin.get_by_label("Time zone").fill("Europe/London")
    submit(admin, admin.get_by_role("button", name="Create the group"))
    expect(admin.get_by_role("heading", level=1)).to_have_text("Thursday evening group")
    expect(admin.get_by_role("status").first).to_contain_text("Thursday evening group is created")
    expect(admin.get_by_role("note")).to_contain_text("This group needs a lead facilitator.")
    expect(admin.get_by_role("main")).to_contain_text("Thursdays at 19:00 (Europe/London), 90 minutes")

    # ... and assigns the new facilitator as lead, from those who may lead today
    lead_select = admin.get_by_label("Lead facilitator", exact=True)
    expect(lead_select.locator("optgroup[label='May lead today'] option")).to_contain_text(["Tess Trainee"])
    lead_select.select_option(value=str(people.trainee.id))
    submit(admin, admin.get_by_role("button", name="Assign as lead"))
    expect(admin.get_by_role("status").first).to_contain_text(
        "Tess Trainee is now the lead facilitator of Thursday evening group.")
    expect(admin.get_by_role("note")).to_have_count(0)

    with app.app_context():
        group = db.session.scalar(select(Group))
        group_id = group.id
        nxt = groups.next_session(group)
        next_day = f"{nxt.session_date:%A} {nxt.session_date.day} {nxt.session_date:%B %Y}"

    # --- the facilitator sees the group, its meeting link and its next session
    visit(trainee, "/lead")
    card = trainee.get_by_role("region", name="Thursday evening group", exact=True)
    expect(card).to_contain_text("Lead facilitator")
    expect(card.get_by_role("link", name=ZOOM)).to_be_visible()
    expect(card.get_by_role("table").get_by_role("row").nth(1)).to_contain_text(next_day)
    follow(trainee, card.get_by_role("link", name="Thursday evening group"))
    expect(trainee.get_by_role("heading", level=1)).to_have_text("Thursday evening group")
    facts = trainee.get_by_role("region", name="About this group")
    expect(facts.locator("dt", has_text="Next session").locator("+ dd")).to_have_text(
        f"{next_day} at 19:00 (Europe/London)")
    expect(trainee.get_by_role("button", name="Assign as lead")).to_have_count(0)

    # --- the administrator revokes the certificate
    visit(admin, f"/certificates/{serial}")
    admin.get_by_label(re.compile("Reason")).fill("Issued in error: the practicum was logged twice.")
    admin.get_by_role("checkbox").check()
    submit(admin, admin.get_by_role("button", name=re.compile("Revoke")))
    expect(admin.get_by_role("status").first).to_contain_text("revoked")

    # the groups list and the group's page say it needs a lead facilitator
    follow(admin, admin.get_by_role("navigation").get_by_role("link", name="Groups"))
    expect(admin.get_by_role("note")).to_contain_text("1 group needs a lead facilitator: Thursday evening group.")
    row = admin.get_by_role("row").filter(has=admin.get_by_role("rowheader", name="Thursday evening group"))
    expect(row).to_contain_text("Needs a lead facilitator")
    expect(row).not_to_contain_text("Tess Trainee")
    follow(admin, row.get_by_role("link", name="Thursday evening group"))
    expect(admin.get_by_role("note")).to_contain_text("This group needs a lead facilitator.")
    expect(admin.get_by_role("main")).to_contain_text("Nobody leads this group at the moment.")

    # --- and "Lead a group" is locked again, saying why
    visit(trainee, "/lead")
    expect(lead_state(trainee)).to_contain_text("Locked for now")
    expect(lead_state(trainee)).to_contain_text(f"Certificate {serial} was revoked on")
    expect(trainee.get_by_role("region", name="Thursday evening group", exact=True)).to_have_count(0)
    assert trainee.goto(f"/groups/{group_id}").status == 404


def test_the_lead_records_last_weeks_session_and_subscribes_to_the_calendar(app, pages: Pages, people: People,
                                                                             program):
    make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    make_group(app, people.admin.id, now=T0 - timedelta(days=7), lead_id=people.trainee.id,
               co_ids=(people.other_trainee.id,))
    last_week = TODAY - timedelta(days=7)
    when = f"{last_week:%A} {last_week.day} {last_week:%B %Y}"
    trainee = pages.new()
    log_in(trainee, people.trainee.email, PASSWORD)
    follow(trainee, trainee.get_by_role("navigation").get_by_role("link", name="Lead a group"))

    # the form of last week's session: a missing number is shown next to its field, nothing is saved
    form = trainee.get_by_role("region", name=f"Record that a session was held: Tuesday evening group, {when}")
    expect(form.get_by_label("How long it ran (minutes)")).to_have_value("90")
    expect(form.get_by_text("Do not name participants", exact=False)).to_be_visible()
    submit(trainee, form.get_by_role("button", name=re.compile("Record that the session was held")))
    form = trainee.get_by_role("region", name=f"Record that a session was held: Tuesday evening group, {when}")
    expect(form.get_by_role("alert")).to_contain_text("Give how many people took part")
    expect(form.get_by_label("How many people took part")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("How long it ran (minutes)").fill("85")
    form.get_by_label("How many people took part").fill("7")
    form.get_by_role("group", name="Co-facilitators who were there").get_by_label("Theo Trainee").check()
    form.get_by_label("Note (optional)").fill("We talked about the first weeks and what helps.")
    submit(trainee, form.get_by_role("button", name=re.compile("Record that the session was held")))
    expect(trainee.get_by_role("status").first).to_contain_text(f"The session of {when} is recorded as held.")
    expect(trainee.get_by_role("heading", name=f"Record that a session was held: Tuesday evening group, {when}")
           ).to_have_count(0)

    # the group's page lists it among the sessions held
    follow(trainee, trainee.get_by_role("link", name="Tuesday evening group"))
    held = trainee.get_by_role("region", name="Sessions held recently")
    expect(held).to_contain_text(when)
    expect(held).to_contain_text("85 minutes")
    expect(held).to_contain_text("Theo Trainee")

    # the calendar feed: made, shown once, working; a new one replaces it
    visit(trainee, "/lead")
    follow(trainee, trainee.get_by_role("link", name="Set up your calendar feed"))
    expect(trainee.get_by_role("heading", level=1)).to_have_text("Your calendar feed")
    submit(trainee, trainee.get_by_role("button", name="Create my calendar link"))
    first = trainee.get_by_label("Calendar link").input_value()
    assert re.search(r"/calendar/[A-Za-z0-9_-]{43}\.ics$", first)
    assert trainee.request.get(first).status == 200
    submit(trainee, trainee.get_by_role("button", name="Make a new link (the old one stops working)"))
    second = trainee.get_by_label("Calendar link").input_value()
    assert second != first
    assert trainee.request.get(first).status == 404
    assert trainee.request.get(second).status == 200
    submit(trainee, trainee.get_by_role("button", name="Stop my calendar feed"))
    expect(trainee.get_by_role("status").first).to_contain_text("Your calendar feed is stopped.")
    assert trainee.request.get(second).status == 404
