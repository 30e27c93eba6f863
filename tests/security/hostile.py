"""Hostile input and the checks that find it live: the payloads, a marker per probed field, how a field's hostile
value is built to fit its length limit, and checkers for HTML pages, PDFs, CSV files and e-mails. Shared by
tests/security/test_stored_xss.py and tests/security/test_pdf_renderer.py.

Each probed field gets a marker (``hx007q``): a short token that ordinary text never contains. A field's value is
its marker followed by payloads; the checkers report executable markup wherever it is, and where each marker was
seen as text, so a test can also prove that the value was shown at all (a page that dropped it would pass every
check for nothing).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser

from pypdf import PdfReader
from pypdf.generic import IndirectObject

# ---------------------------------------------------------------- payloads

# Short, so that a field of 80 characters takes several in one value. Each is a different way out of the
# context a value may land in: element content, a double- or single-quoted attribute, a <textarea>, a
# template, a URL attribute.
PAYLOADS: dict[str, str] = {
    "script": "<script>alert(1)</script>",
    "img-onerror": '"><img src onerror=alert(1)>',
    "double-quote-attribute": '" onfocus="alert(1)',
    "single-quote-attribute": "' onfocus='alert(1)",
    "svg-onload": "<svg/onload=alert(1)>",
    "textarea-breakout": "</textarea><svg/onload=alert(1)>",
    "template": "[{{7*7}}]{{config}}",
    "javascript-url": "javascript:alert(1)",
    "iframe": "<iframe src=//x.test>",
}
# Markdown (lessons, questions, the code of conduct) gets the payloads above and the ways Markdown makes links
# and raw HTML. (`{{config}}` would be refused by the lesson loader as an unknown placeholder: in Markdown the
# template payload reads `{{config.items()}}`, which the placeholder pattern does not match.)
MARKDOWN_PAYLOADS: dict[str, str] = {
    "md-link": "[click](javascript:alert(1))",
    "md-link-mixed-case": "[click](JaVaScRiPt:alert(1))",
    "md-image": "![x](javascript:alert(1))",
    "md-data-link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "md-autolink": "<javascript:alert(1)>",
    "md-raw-anchor": '<a href="javascript:alert(1)" onclick="alert(1)">x</a>',
}
# A spreadsheet runs a cell that starts with one of these as a formula. Values of fields that reach a CSV file
# start with one (a different one per field and round).
FORMULAS = ("=1+1", "+1+1", "-1+1", "@SUM(1)")
EMAIL_FORMULAS = ("=1+1", "+1+1", "-1+1")  # an address cannot start with "@"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TEMPLATE_RESULTS = ("[49]", "<Config", "SECRET_KEY")  # what {{7*7}} and {{config}} would render as


# ---------------------------------------------------------------- the probe table


@dataclass(frozen=True)
class Probe:
    """One user-writable field. kind: stored (planted, then every page that shows it is checked and it must be
    seen), refused (the hostile value is refused; the page that says so is checked) or reflected (not stored:
    the response to it is checked). shape: text, email, zoom (a meeting link: https on zoom.us), markdown."""

    kind: str
    how: str
    limit: int | None = None
    shape: str = "text"
    csv: bool = False  # reaches a CSV export: the value starts with a formula
    shown: bool = True  # False: stored, but no page, file or e-mail shows it (the test checks that it stays so)


def _s(how: str, limit: int | None, **kw) -> Probe:
    return Probe("stored", how, limit, **kw)


def _r(how: str) -> Probe:
    return Probe("refused", how)


def _x(how: str) -> Probe:
    return Probe("reflected", how)


F = "lms.accounts.forms."
C = "lms.certification.forms."
CF = "lms.certification.certificate_forms."
G = "lms.groups.forms."

# Every StringField (and subclass) of every form, every free-text property of every API request body, every text
# of the content files and every request parameter read directly. test_stored_xss.py checks that nothing exists
# that this table does not name, and that nothing named here has gone.
PROBES: dict[str, Probe] = {
    # --- accounts
    F + "ProfileForm.display_name": _s("admin, supervisor and trainee each save it in Settings", 120, csv=True),
    F + "ProfileForm.certificate_name": _s("the same three, in Settings; the trainee's is printed on the "
                                           "certificate", 120),
    F + "ApiTokenForm.name": _s("admin, supervisor and trainee each create a token in Settings", 80),
    F + "UserCreateForm.email": _s("the admin adds a trainee with a password at /admin/users/new", 254,
                                   shape="email", csv=True),
    F + "UserCreateForm.display_name": _s("the same, and another trainee with an invitation", 120, csv=True),
    F + "UserCreateForm.certificate_name": _s("the same two trainees", 120),
    F + "UserCreateForm.password": _x("a refused initial password (the page comes back with errors)"),
    F + "LoginForm.email": _x("a failed login"),
    F + "LoginForm.password": _x("a failed login"),
    F + "LoginForm.next": _x("a failed login from /login?next=…"),
    F + "ForgotPasswordForm.email": _x("a reset asked for an unknown address"),
    F + "SetPasswordForm.password": _x("an invitation accepted with passwords that differ"),
    F + "SetPasswordForm.confirm": _x("the same"),
    F + "ChangePasswordForm.current_password": _x("a wrong current password in Settings"),
    F + "ChangePasswordForm.new_password": _x("the same"),
    F + "ChangePasswordForm.confirm": _x("the same"),
    # --- certification
    C + "RequestForm.message": _s("the trainee asks for certification twice on /certification", 2000),
    C + "ConductForm.version": _r("a code-of-conduct version that is not the one in force"),
    C + "PracticumForm.group_name": _s("the trainee logs four sessions on /practicum", 120),
    C + "PracticumForm.reflection": _s("the same four sessions", 2000),
    C + "ReviewForm.note": _s("the supervisor confirms the four entries", 2000),
    C + "ApproveForm.note": _s("the supervisor approves the trainee's second request", 2000),
    C + "RejectForm.reason": _s("the supervisor does not approve the first", 2000),
    CF + "RevokeForm.reason": _s("the admin revokes the other trainee's certificate", 2000),
    CF + "VerifyCodeForm.code": _x("a code typed on the public /verify page"),
    # --- groups
    G + "GroupForm.name": _s("the admin creates a group at /groups/new", 120),
    G + "GroupForm.description": _s("the same group", 2000),
    G + "GroupForm.meeting_url": _s("the same group: a Zoom link carrying payloads in its query", 500,
                                    shape="zoom"),
    G + "GroupForm.timezone": _r("a group with a time zone that is not an IANA key"),
    G + "HeldForm.note": _s("the admin records a session held on the group's page", 1000),
    G + "HeldForm.back": _r("a session record posted with a hostile return page"),
    G + "CalendarForm.action": _r("a calendar-feed button with a hostile action"),
    # --- API request bodies (components of /api/v1/openapi.json)
    "api:UserCreate.email": _s("the admin creates a user with an invitation", 254, shape="email", csv=True),
    "api:UserCreate.display_name": _s("the same user", 120, csv=True),
    "api:UserCreate.certificate_name": _s("the same user", 120),
    "api:UserUpdate.display_name": _s("the admin renames the other trainee", 120, csv=True),
    "api:UserUpdate.certificate_name": _s("the same; printed on their certificate", 120),
    "api:AnswersIn.answers": _s("a short answer saved through the API", 500),
    "api:SubmitIn.answers": _s("a short answer sent with the submission", 500),
    "api:PracticumIn.group_name": _s("the trainee logs a fifth session through the API", 120),
    "api:PracticumIn.reflection": _s("the same entry", 2000),
    "api:PracticumIn.session_date": _r("a date that is not a date"),
    "api:PracticumReviewIn.note": _s("the supervisor does not confirm that entry", 2000),
    "api:CertificationRequestIn.message": _s("the trainee's request made through the API", 2000),
    "api:ApproveIn.note": _s("the supervisor approves the other trainee's request", 2000),
    "api:RejectIn.reason": _s("the supervisor does not approve the trainee's API request", 2000),
    "api:RevokeIn.reason": _s("the admin revokes the trainee's certificate at the end", 2000),
    "api:GroupIn.name": _s("the admin creates a second group", 120),
    "api:GroupIn.description": _s("the same group", 2000),
    "api:GroupIn.meeting_url": _s("the same group", 500, shape="zoom"),
    "api:GroupIn.timezone": _r("a time zone that is not an IANA key"),
    "api:GroupIn.start_time": _r("a start time that is not HH:MM"),
    "api:GroupUpdate.name": _s("the admin renames the group the trainee leads", 120),
    "api:GroupUpdate.description": _s("the same", 2000),
    "api:GroupUpdate.meeting_url": _s("the same", 500, shape="zoom"),
    "api:GroupUpdate.timezone": _r("a time zone that is not an IANA key"),
    "api:GroupUpdate.start_time": _r("a start time that is not HH:MM"),
    "api:SessionHeldIn.note": _s("the admin records the other session held", 1000),
    # --- content files, typed by administrators (loaded with `lms load-content`)
    "content:Course.title": _s("course alpha's course.yaml; it is in the CSV exports", 200, csv=True),
    "content:Course.summary": _s("course alpha's course.yaml", None),
    "content:Course.objectives": _s("course alpha's course.yaml", None),
    "content:Lesson.title": _s("the front matter of alpha's first lesson", 200),
    "content:Lesson.body": _s("alpha's first lesson, Markdown", None, shape="markdown"),
    "content:Quiz.title": _s("quizzes/alpha.yaml; it is in the CSV exports", 200, csv=True),
    "content:Quiz.questions": _s("question texts, options and feedback of quizzes/alpha.yaml, Markdown", None,
                                 shape="markdown"),
    "content:Program.title": _s("courses/program.yaml; printed on the certificate as the credential", 200),
    "content:Program.description": _s("courses/program.yaml (no page shows it)", None, shown=False),
    "content:Program.version": _s("courses/program.yaml; printed on the certificate", 40),
    "content:RubricCriterion.title": _s("the program's rubric: a review form's question", None),
    "content:RubricCriterion.description": _s("the same", None),
    "content:CodeOfConduct.title": _s("courses/code.md's front matter", 200),
    "content:CodeOfConduct.body": _s("courses/code.md, Markdown", None, shape="markdown"),
    "content:CodeOfConduct.version": _s("courses/code.md's front matter", 40),
    # --- request parameters read without a form (file: parameter; $name is a parameter named by a variable)
    "param:lms/quizzes/views.py:*": _s("a quiz's short answer typed in the attempt page's form", 500),
    "param:lms/certification/certificate_views.py:*": _x("the /verify form, as VerifyCodeForm.code"),
    "param:lms/accounts/views.py:next": _x("/login?next=…"),
    "param:lms/accounts/views.py:email": _x("the login form's e-mail (the rate-limit key)"),
    "param:lms/admin/views.py:q": _x("the people search box"),
    "param:lms/admin/views.py:role": _r("a role filter that is not a role"),
    "param:lms/admin/views.py:status": _r("a status filter that is not a status"),
    "param:lms/admin/views.py:user_ids": _r("bulk assignment with ids that are not numbers"),
    "param:lms/admin/views.py:action": _x("the audit trail's filters"),
    "param:lms/admin/views.py:actor": _x("the audit trail's filters (an unknown e-mail is named in a message)"),
    "param:lms/admin/views.py:subject_type": _x("the audit trail's filters"),
    "param:lms/admin/views.py:subject_id": _x("the audit trail's filters"),
    "param:lms/admin/views.py:version": _r("a lesson version that does not exist (404)"),
    "param:lms/records/report_views.py:q": _x("the supervision dashboard's search box"),
    "param:lms/records/report_views.py:$name": _r("a status or sort that is not one (400)"),
    "param:lms/records/report_views.py:order": _r("an order that is not asc or desc (400)"),
    "param:lms/records/report_views.py:supervisor": _r("a supervisor that is not a number"),
    "param:lms/records/views.py:format": _r("a transcript format that is not html or pdf (400)"),
    "param:lms/web.py:$name": _r("a page number that is not a number"),
    "param:lms/certification/certificate_views.py:q": _x("the certificate registry's search box"),
    "param:lms/certification/certificate_views.py:status": _r("a registry status that is not one (400)"),
    "param:lms/certification/badge_views.py:format": _r("a credential format that is not one"),
    "param:lms/certification/views.py:status": _r("a reviews filter that is not one (400)"),
    "param:lms/api/users.py:q": _x("GET /api/v1/users?q=… (JSON)"),
    "param:lms/api/users.py:role": _r("GET /api/v1/users?role=… (JSON problem)"),
    "param:lms/api/users.py:status": _r("GET /api/v1/users?status=… (JSON problem)"),
    "param:lms/api/records_export.py:since": _r("GET /api/v1/records/export?since=… (JSON problem)"),
    "param:lms/api/records_export.py:format": _r("GET /api/v1/records/export?format=… (JSON problem)"),
    "param:lms/api/records_export.py:kind": _r("GET /api/v1/records/export?kind=… (JSON problem)"),
    "param:lms/api/certification.py:status": _r("GET /api/v1/certification-requests?status=… (JSON problem)"),
    "param:lms/api/groups.py:$name": _r("GET /api/v1/groups/…/sessions?from=… (JSON problem)"),
    "param:lms/api/core.py:$name": _r("a whole-number query parameter of the API (JSON problem)"),
}

PROBE_INDEX = {key: i for i, key in enumerate(PROBES)}


def marker(key: str) -> str:
    """The probe's marker: lower case and alphanumeric, so that it survives e-mail normalisation and Markdown."""
    return f"hx{PROBE_INDEX[key]:03d}q"


MARKER_RE = re.compile(r"hx(\d{3})q")


def probe_of_marker(text: str) -> str:
    return list(PROBES)[int(text[2:5])]


# ---------------------------------------------------------------- values that fit


def pack(capacity: int) -> list[list[str]]:
    """The payload names in as few groups as possible, each fitting `capacity` characters once joined by spaces.
    Every payload is in exactly one group. (Nine payloads: an exhaustive search is instant.)"""
    names = sorted(PAYLOADS, key=lambda n: -len(PAYLOADS[n]))
    assert all(len(PAYLOADS[n]) <= capacity for n in names), f"a payload is longer than {capacity} characters"

    def place(i: int, bins: list[list[str]], k: int) -> list[list[str]] | None:
        if i == len(names):
            return bins
        size = len(PAYLOADS[names[i]])
        for b in bins:
            if sum(len(PAYLOADS[n]) + 1 for n in b) + size <= capacity:
                b.append(names[i])
                if place(i + 1, bins, k):
                    return bins
                b.pop()
        if len(bins) < k:
            bins.append([names[i]])
            if place(i + 1, bins, k):
                return bins
            bins.pop()
        return None

    for k in range(1, len(names) + 1):
        bins = place(0, [], k)
        if bins:
            return [sorted(b, key=list(PAYLOADS).index) for b in bins]
    raise AssertionError("unreachable")


def _prefix(key: str, round_: int, *, max_formula: bool = False) -> str:
    probe = PROBES[key]
    formula = ""
    if probe.csv:
        formula = max(FORMULAS, key=len) if max_formula else FORMULAS[(PROBE_INDEX[key] + round_) % len(FORMULAS)]
    return f"{formula}{marker(key)} "


# Fields shorter than this (versions of the program and of the code of conduct: 40 characters) take one payload
# per round, the most telling first; longer ones take every payload over the rounds.
FULL_LIMIT = 80
SHORT_FIELD_ORDER = ("script", "img-onerror", "template", "single-quote-attribute", "textarea-breakout")


def is_short(key: str) -> bool:
    limit = PROBES[key].limit
    return limit is not None and limit < FULL_LIMIT


def payload_groups(key: str) -> list[list[str]]:
    """The payloads of a text probe, grouped so that each group fits its limit after the prefix."""
    limit = PROBES[key].limit or 10_000
    capacity = limit - len(_prefix(key, 0, max_formula=True))
    if is_short(key):
        return [[name] for name in SHORT_FIELD_ORDER if len(PAYLOADS[name]) <= capacity]
    return pack(capacity)


def rounds_needed() -> int:
    """Rounds of the whole scenario needed for every payload to be planted in every text field of FULL_LIMIT
    characters or more at least once."""
    return max(len(payload_groups(k)) for k, p in PROBES.items()
               if p.kind == "stored" and p.shape == "text" and not is_short(k))


def hostile(key: str, round_: int = 0) -> str:
    """The hostile value of a probe in a round."""
    probe = PROBES[key]
    m = marker(key)
    if probe.shape == "email":
        formula = EMAIL_FORMULAS[(PROBE_INDEX[key] + round_) % len(EMAIL_FORMULAS)]
        return f"{formula}{m}.'onfocus='x'.{{{{7*7}}}}/`{round_}@example.org"
    if probe.shape == "zoom":
        # Everything printable but spaces is allowed in a link, quotes and angle brackets included: each payload
        # goes in with its spaces made into what a browser also accepts there.
        tail = "".join(p.replace('" ', '"').replace("' ", "'").replace(" ", "/") for p in PAYLOADS.values())
        return f"https://us02web.zoom.us/j/81234567890?pwd={m}{tail}"
    if probe.shape == "markdown":
        parts = [f"# {m} heading", *PAYLOADS.values(), *MARKDOWN_PAYLOADS.values()]
        return "\n\n".join(p.replace("{{config}}", "{{config.items()}}") for p in parts) + "\n"
    groups = payload_groups(key)
    prefix = _prefix(key, round_)
    if is_short(key):
        prefix = prefix.rstrip()  # every character counts
    value = prefix + " ".join(PAYLOADS[n] for n in groups[round_ % len(groups)])
    assert probe.limit is None or len(value) <= probe.limit, (key, len(value))
    return value


def planted_payloads(key: str, round_: int) -> set[str]:
    probe = PROBES[key]
    if probe.shape != "text":
        return set(PAYLOADS)
    return set(payload_groups(key)[round_ % len(payload_groups(key))])


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------- HTML

DANGEROUS_TAGS = frozenset({"iframe", "frame", "frameset", "object", "embed", "applet", "base", "svg", "math",
                            "style", "template", "portal"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
                            "cite", "ping", "srcset", "manifest", "codebase"})
# Attributes that legitimately carry a person's text (a form field's value, a title or label); a marker in any
# other attribute (id, class, name, for, ...) means the value made markup of its own.
TEXT_ATTRIBUTES = frozenset({"value", "title", "alt", "aria-label", "placeholder", "href", "aria-description"})
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "livescript:")


def _url_is_executable(value: str) -> bool:
    squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
    return squeezed.startswith(BAD_SCHEMES)


@dataclass
class PageReport:
    problems: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # the text nodes, unescaped
    attribute_text: list[str] = field(default_factory=list)  # values of TEXT_ATTRIBUTES
    links: list[str] = field(default_factory=list)  # href of <a>

    @property
    def all_text(self) -> str:
        return "".join(self.text)


class _Checker(HTMLParser):
    def __init__(self, report: PageReport) -> None:
        super().__init__(convert_charrefs=True)
        self.report = report
        self.raw: str | None = None  # inside <script> or <style>

    def _problem(self, what: str) -> None:
        self.report.problems.append(f"{what} (line {self.getpos()[0]})")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)
        if tag in ("script", "style"):
            self.raw = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if MARKER_RE.search(tag):
            self._problem(f"a tag named by a value: <{tag}>")
        if tag == "script":
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self._problem(f"<script> that is not the app's own: src={src!r}")
        elif tag in DANGEROUS_TAGS:
            self._problem(f"<{tag}>")
        elif tag == "link" and not (dict(attrs).get("href") or "").startswith("/static/"):
            self._problem(f"<link> to {dict(attrs).get('href')!r}")
        elif tag == "meta" and (dict(attrs).get("http-equiv") or "").lower() == "refresh":
            self._problem("<meta http-equiv=refresh>")
        if tag == "a" and dict(attrs).get("href"):
            self.report.links.append(dict(attrs)["href"] or "")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self._problem(f"event handler {name}={value!r} on <{tag}>")
            if MARKER_RE.search(name):
                self._problem(f"an attribute named by a value: {name!r} on <{tag}>")
            if name in URL_ATTRIBUTES and _url_is_executable(value):
                self._problem(f"executable URL {name}={value!r} on <{tag}>")
            if name == "style" and re.search(r"url\s*\(|expression\s*\(", value, re.I):
                self._problem(f"style with a URL on <{tag}>: {value!r}")
            if name in TEXT_ATTRIBUTES:
                self.report.attribute_text.append(value)
            elif MARKER_RE.search(value):
                self._problem(f"a value in attribute {name}={value!r} of <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw:
            self.raw = None

    def handle_data(self, data: str) -> None:
        if self.raw is not None:
            if MARKER_RE.search(data) or data.strip():
                self._problem(f"inline <{self.raw}> content: {data.strip()[:80]!r}")
            return
        self.report.text.append(data)

    def handle_comment(self, data: str) -> None:
        if MARKER_RE.search(data):
            self._problem(f"a value inside a comment: {data[:80]!r}")


def check_html(html: str, secrets: Iterable[str] = ()) -> PageReport:
    """Everything a browser could run in `html`, and its text. Rules: no <script> but the app's own (src under
    /static, no inline code), no on* attribute, no javascript:/vbscript:/data:text/html URL in a URL attribute,
    no <iframe>/<object>/<embed>/<svg>/<style>/<base> (the app's pages have none), no markup named by a value
    (a marker in a tag or attribute name, or in an attribute other than a text-bearing one), and no template
    result ({{7*7}} as [49], {{config}}) nor secret in the text."""
    report = PageReport()
    checker = _Checker(report)
    checker.feed(html)
    checker.close()
    text = report.all_text
    for result in TEMPLATE_RESULTS:
        if result in text:
            report.problems.append(f"a template was evaluated: {result!r} in the text")
    for secret in secrets:
        if secret and secret in html:
            report.problems.append("a secret is on the page")
    return report


def markers_in(text: str) -> set[str]:
    return {m.group(0) for m in MARKER_RE.finditer(text)}


# ---------------------------------------------------------------- PDF


def pdf_problems(pdf: bytes) -> list[str]:
    """What a PDF must not hold: embedded files (the /EmbeddedFiles name tree, /FileAttachment annotations),
    JavaScript, launch or submit actions, an open action, links other than http(s) or mailto, form fields."""
    problems: list[str] = []
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    names = root.get("/Names")
    if names is not None:
        names = names.get_object()
        for key in ("/EmbeddedFiles", "/JavaScript"):
            if key in names:
                problems.append(f"the catalogue's name tree has {key}")
    for key in ("/OpenAction", "/AA", "/AcroForm"):
        if key in root:
            problems.append(f"the catalogue has {key}")
    for number, page in enumerate(reader.pages, start=1):
        if "/AA" in page:
            problems.append(f"page {number} has additional actions")
        for ref in page.get("/Annots") or []:
            annot = ref.get_object() if isinstance(ref, IndirectObject) else ref
            subtype = str(annot.get("/Subtype"))
            if subtype in ("/FileAttachment", "/Widget", "/Movie", "/Sound", "/Screen", "/RichMedia"):
                problems.append(f"page {number} has a {subtype} annotation")
            action = annot.get("/A")
            if action is not None:
                action = action.get_object()
                kind = str(action.get("/S"))
                if kind == "/URI":
                    uri = str(action.get("/URI"))
                    if not re.match(r"^(https?:|mailto:)", uri, re.I):
                        problems.append(f"page {number} links to {uri!r}")
                elif kind != "/GoTo":
                    problems.append(f"page {number} has a {kind} action")
    # The raw file, in case a structure above was missed: these names appear nowhere in a plain document.
    for name in (b"/EmbeddedFile", b"/FileAttachment", b"/JavaScript", b"/Launch", b"/SubmitForm"):
        if name in pdf:
            problems.append(f"{name.decode()} in the file")
    return problems


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    parts = [page.extract_text() for page in reader.pages]
    if reader.metadata is not None:
        parts += [str(v) for v in reader.metadata.values()]
    return "\n".join(parts)


# ---------------------------------------------------------------- CSV


NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def csv_problems(text: str) -> list[str]:
    """Cells a spreadsheet would run as a formula: starting with = + - @, a tab or a carriage return (a plain
    negative number is not a formula)."""
    problems = []
    for row_number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        for cell in row:
            if cell.startswith(FORMULA_START) and not NUMBER.match(cell):
                problems.append(f"row {row_number}: {cell[:60]!r}")
    return problems


# ---------------------------------------------------------------- e-mail


def mail_parts(msg: Message) -> list[tuple[str, str]]:
    """(content type, decoded text) of every text part of a message."""
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True) or b""
            parts.append((part.get_content_type(), payload.decode(part.get_content_charset() or "utf-8")))
    return parts
