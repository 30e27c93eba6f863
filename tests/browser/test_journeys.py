"""Journeys through the real pages in Chromium: logging in and out, invitations, roles, settings, keyboard use
and small screens. Every page visited is checked with axe-core (see support.py)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import ARTIFACTS, Pages, axe_check, follow, log_in, log_out, submit, visit
from tests.factories import PASSWORD, Outbox, People

HOME_HEADINGS = {
    "admin": ("Hello, Ada Admin", "People"),
    "supervisor": ("Hello, Sam Supervisor", "Your trainees"),
    "trainee": ("Welcome, Tess Trainee", "Your path to facilitating"),
}


def h1(page: Page):
    return page.get_by_role("heading", level=1)


@pytest.mark.parametrize("who", ["admin", "supervisor", "trainee"])
def test_each_role_logs_in_sees_their_home_and_logs_out(page: Page, people: People, who: str):
    user = getattr(people, who)
    log_in(page, user.email, PASSWORD)

    expect(page).to_have_url(re.compile(r"/$"))
    title, section = HOME_HEADINGS[who]
    expect(h1(page)).to_have_text(title)
    expect(page.get_by_role("heading", level=2, name=section)).to_be_visible()
    banner = page.get_by_role("banner")
    expect(banner).to_contain_text(user.display_name)
    expect(banner).to_contain_text(user.role.label)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="People", exact=True)).to_have_count(1 if who == "admin" else 0)
    if who == "supervisor":
        expect(page.get_by_role("table")).to_contain_text(people.trainee.display_name)

    log_out(page)
    # the session is gone: the home page sends us back to the login form
    visit(page, "/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("status")).to_contain_text("Please log in to see that page.")


def test_admin_invites_a_person_who_sets_a_password_and_is_logged_in(pages: Pages, people: People, outbox: Outbox,
                                                                        live_server: str):
    admin = pages.new()
    log_in(admin, people.admin.email, PASSWORD)
    follow(admin, admin.get_by_role("navigation", name="Main").get_by_role("link", name="People", exact=True))
    expect(h1(admin)).to_have_text("People")
    follow(admin, admin.get_by_role("link", name="Add a person"))
    expect(h1(admin)).to_have_text("Add a person")

    admin.get_by_label("E-mail", exact=True).fill("nia.newcomer@example.org")
    admin.get_by_label("Display name", exact=True).fill("Nia Newcomer")
    admin.get_by_label("Role", exact=True).select_option("trainee")
    admin.get_by_label("Supervisor", exact=True).select_option(label=f"Sam Supervisor ({people.supervisor.email})")
    invite = admin.get_by_label("E-mail an invitation to set a password")
    expect(invite).to_be_checked()
    submit(admin, admin.get_by_role("button", name="Add person"))

    expect(admin).to_have_url(re.compile(r"/admin/users/\d+$"))
    expect(h1(admin)).to_have_text("Nia Newcomer")
    expect(admin.get_by_role("status")).to_contain_text("Invitation sent to nia.newcomer@example.org.")
    expect(admin.locator(".facts")).to_contain_text("Invited")

    mail = outbox.last_to("nia.newcomer@example.org")
    assert mail["Subject"] == "You are invited to Project New Day facilitator training"
    link = outbox.link_in_last_to("nia.newcomer@example.org")
    assert link.startswith(f"{live_server}/invitation/"), link

    newcomer = pages.new()  # another browser: no admin cookies
    visit(newcomer, link)
    expect(h1(newcomer)).to_have_text("Welcome, Nia Newcomer")
    new_password = "a brand new passphrase for nia"
    newcomer.get_by_label("New password", exact=True).fill(new_password)
    newcomer.get_by_label("Repeat the new password").fill(new_password)
    submit(newcomer, newcomer.get_by_role("button", name="Set password and log in"))

    expect(newcomer).to_have_url(re.compile(r"/$"))
    expect(newcomer.get_by_role("status")).to_contain_text("Welcome! Your password is set and you are logged in.")
    expect(h1(newcomer)).to_have_text("Welcome, Nia Newcomer")
    expect(newcomer.get_by_role("banner")).to_contain_text("Nia Newcomer")
    expect(newcomer.get_by_role("main")).to_contain_text("Sam Supervisor")  # the supervisor chosen above

    # the link is spent
    response = newcomer.goto(link)
    assert response is not None and response.status == 410
    axe_check(newcomer)
    expect(h1(newcomer)).to_have_text("This link no longer works")

    # and the admin sees the account as active now
    admin.reload()
    axe_check(admin)
    expect(admin.locator(".facts")).to_contain_text("Active")


def test_admin_changes_a_role_and_the_audit_trail_shows_it(page: Page, people: People):
    log_in(page, people.admin.email, PASSWORD)
    visit(page, "/admin/users")
    follow(page, page.get_by_role("link", name=people.trainee.display_name))
    expect(h1(page)).to_have_text(people.trainee.display_name)
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Trainee")

    role_section = page.get_by_role("region", name="Role")
    role_section.get_by_label("Role", exact=True).select_option("supervisor")
    submit(page, role_section.get_by_role("button", name="Change role"))

    expect(page.get_by_role("status")).to_contain_text("Tess Trainee's role is changed.")
    expect(facts.locator("dt:text-is('Role') + dd")).to_have_text("Supervisor")
    expect(page.get_by_role("region", name="Assigned trainees")).to_be_visible()  # a supervisor's section now
    history = page.get_by_role("region", name="Recent history")
    expect(history.get_by_role("listitem").first).to_contain_text(f"user.role_changed by {people.admin.email}")

    follow(page, history.get_by_role("link", name="Full history in the audit trail"))
    expect(h1(page)).to_have_text("Audit trail")
    row = page.get_by_role("row").filter(has_text="user.role_changed")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(people.admin.email)
    expect(row).to_contain_text(people.trainee.email)
    expect(row).to_contain_text("from: trainee")
    expect(row).to_contain_text("to: supervisor")


def test_settings_api_token_is_shown_once_and_password_can_be_changed(page: Page, people: People):
    log_in(page, people.trainee.email, PASSWORD)
    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings", exact=True))
    expect(h1(page)).to_have_text("Settings")
    tokens = page.get_by_role("region", name="API tokens")
    expect(tokens).to_contain_text("You have no API tokens.")

    tokens.get_by_label("Token name").fill("reporting script")
    submit(page, tokens.get_by_role("button", name="Create token"))
    tokens = page.get_by_role("region", name="API tokens")
    secret = page.locator("#new-token").inner_text().strip()
    assert re.fullmatch(r"pnd_[A-Za-z0-9_-]{40,}", secret), secret
    expect(tokens.get_by_role("status")).to_contain_text("shown only this once")
    row = tokens.get_by_role("row").filter(has_text="reporting script")
    expect(row).to_contain_text(secret[:10])

    # the token works against the API, as the person who made it
    me = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.ok, me.text()
    assert me.json()["email"] == people.trainee.email

    # shown once: coming back to the page does not show it again
    visit(page, "/settings")
    expect(page.locator("#new-token")).to_have_count(0)
    assert secret not in page.content()
    expect(page.get_by_role("region", name="API tokens").get_by_role("row")
           .filter(has_text="reporting script")).to_contain_text(secret[:10])

    new_password = "another long passphrase of mine"
    section = page.get_by_role("region", name="Password")
    section.get_by_label("Current password").fill(PASSWORD)
    section.get_by_label("New password", exact=True).fill(new_password)
    section.get_by_label("Repeat the new password").fill(new_password)
    submit(page, section.get_by_role("button", name="Change password"))
    expect(page).to_have_url(re.compile(r"/settings$"))
    expect(page.get_by_role("status")).to_contain_text("Password changed.")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()  # still logged in here

    log_out(page)
    log_in(page, people.trainee.email, new_password)
    expect(h1(page)).to_have_text("Welcome, Tess Trainee")


def test_failed_login_explains_and_is_accessible(page: Page, people: People):
    visit(page, "/login")
    page.get_by_label("E-mail").fill(people.admin.email)
    page.get_by_label("Password").fill("not the password at all")
    submit(page, page.get_by_role("button", name="Log in"))

    expect(page).to_have_url(re.compile(r"/login$"))
    expect(h1(page)).to_have_text("Log in")
    expect(page.get_by_role("alert")).to_have_text("That e-mail and password do not match an active account.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    expect(page.get_by_label("E-mail")).to_have_value(people.admin.email)
    expect(page.get_by_label("Password")).to_have_value("")

    # an empty form: a summary of errors linking to the fields, which are marked invalid
    page.get_by_label("E-mail").fill("")
    submit(page, page.get_by_role("button", name="Log in"))
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Please correct the following")
    expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
    summary.get_by_role("link", name=re.compile("^Password")).click()
    expect(page.get_by_label("Password")).to_be_focused()


@pytest.mark.parametrize("where", ["/login", "/"])
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page: Page, people: People, where: str):
    if where == "/":
        log_in(page, people.admin.email, PASSWORD)
    visit(page, where)

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 0, f"the focused skip link is off screen: {box}"
    axe_check(page)  # with the skip link shown

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # the next Tab continues inside main, past the header
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


PHONE = {"width": 390, "height": 844}
ZOOM_200 = {"width": 640, "height": 900}  # a 1280px wide window at 200% zoom


@pytest.mark.parametrize(("viewport", "scale"), [(PHONE, 3), (ZOOM_200, 2)], ids=["phone", "zoom-200"])
def test_tables_scroll_inside_their_box_on_small_screens(pages: Pages, people: People, viewport, scale):
    """A phone, and a 1280px screen at 200% zoom (640 CSS pixels): the page itself never scrolls sideways."""
    phone = viewport["width"] < 500
    page = pages.new(viewport=viewport, device_scale_factor=scale, is_mobile=phone, has_touch=phone)
    size = f"{viewport['width']}w"

    visit(page, "/login")
    assert_no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"login-{size}.png"), full_page=True)  # for a human to look at

    log_in(page, people.admin.email, PASSWORD)
    for path in ("/admin/users", "/admin/audit"):
        visit(page, path)  # axe also checks that a table box that scrolls can be reached by keyboard
        assert_no_horizontal_overflow(page)
        scroller = page.locator(".table-scroll").filter(has=page.get_by_role("table"))
        expect(scroller).to_have_count(1)
        assert scroller.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        box_width, table_width = scroller.evaluate("e => [e.clientWidth, e.scrollWidth]")
        assert box_width < viewport["width"]
        if phone:  # the table keeps a readable width and scrolls in its box rather than squeezing
            assert table_width > box_width, (path, box_width, table_width)
    visit(page, "/admin/users")
    page.screenshot(path=str(ARTIFACTS / f"people-{size}.png"), full_page=True)


def assert_no_horizontal_overflow(page: Page) -> None:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{page.url}: the page is {scroll_width}px wide in a {inner_width}px window"
