"""Open Badges 3.0: every certificate is also an OpenBadgeCredential, signed as a VC-JWT with the issuer's key,
and its revocation is published in a W3C Bitstring Status List.

The first part is pure: functions over plain values (dates, strings, rules) that build the JSON documents, encode
and decode the status bitstring and sign. The second part handles the issuer key file. The last part is the thin
layer that reads a Certificate and the database.

Decisions, with the texts they follow:

- **Payload shape.** Open Badges 3.0 (final, 1EdTech, section 8.2 "JSON Web Token Proof Format", which follows
  the VC Data Model 2.0 and VC-JOSE-COSE) says "the JWT Payload is the JSON object of the OpenBadgeCredential"
  with the registered claims beside it: `iss` (= `issuer.id`), `jti` (= `id`), `sub` (= `credentialSubject.id`),
  `nbf` (= `validFrom`), `exp` (= `validUntil`, required when the credential has one). The `vc` claim is the
  older VC Data Model 1.1 form, which the 3.0 text keeps only as a note for reading old credentials; we do not
  write it. We add `iat` (when this copy was signed), which the text allows ("additional standard JWT claims").
- **JOSE header.** `{"alg": "ES256", "kid": <URL>, "typ": "JWT"}`. OB 3.0 says `typ`, if present, MUST be
  "JWT", and "additional JOSE headers are NOT allowed", so there is no `cty` and `typ` is not "vc+jwt" (the
  VC-JOSE-COSE value): a strict Open Badges verifier would refuse it. `kid` must be "a URI that can be
  dereferenced to a JWK", so it is `<BASE_URL>/badges/keys/<RFC 7638 thumbprint>`, which answers the public JWK;
  the JWKS at /badges/jwks.json lists the same key under the same `kid`. ES256 (P-256) is "permitted" by the text
  (RS256 is the minimum verifiers must support); it is what was asked for and what wallets commonly use.
- **The subject.** No e-mail and no name: the holder is identified by an IdentityObject, the salted SHA-256 of
  their e-mail (`sha256$` + hex(sha256(email + salt)), salt random per certificate and included, as OB 3.0
  describes). OB 3.0 requires `sub` = `credentialSubject.id`, so the subject also has an `id`: an opaque
  `urn:uuid` derived from the site address and the serial, which says nothing about the person and is different
  on every certificate.
- **Signed on demand.** A credential is signed when downloaded, with the key in force, so a copy fetched after
  a key rotation verifies against the new key; revocation is carried by the status list, not by the copy.
- **Revocation.** `credentialStatus` is a BitstringStatusListEntry (W3C Bitstring Status List v1.0), index =
  the certificate's row id. Bit i of the list is set when certificate i is revoked (a superseded certificate is
  not revoked). The list is at least 131,072 bits (16 KB) uncompressed, as the specification requires for herd
  privacy, GZIP-compressed and multibase base64url-encoded (prefix "u", no padding); bit 0 is the most
  significant bit of the first byte.
- **The key.** One P-256 private JWK in a file (mode 0600; LMS_ISSUER_KEY_FILE, default
  instance/issuer-key.jwk), made by `lms init-db` or on first use, race-safe between processes (written under a
  temporary name, then hard-linked into place, which fails if another process got there first; the loser reads
  the winner's). Each process caches it and notices when the file is replaced. Public keys of earlier issuer
  keys, put as .jwk files in the folder `issuer-keys-retired` beside the key file, stay in the JWKS so that
  credentials signed with them still verify. The private part is never logged nor served.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import secrets
import stat
import threading
import time as _time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

log = logging.getLogger(__name__)

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDENTIAL_CONTEXT = (VC_CONTEXT, OB_CONTEXT)  # the order is required: the VC Data Model's context first
ISSUER_NAME = "Project New Day"
ALG = "ES256"
CURVE = "P-256"
JOSE_TYP = "JWT"  # OB 3.0 section 8.2.3: "If present, MUST be set to 'JWT'"
MEDIA_TYPE = "application/vc+jwt"  # the HTTP content type of a VC-JWT download (VC-JOSE-COSE registration)
STATUS_LIST_MIN_BITS = 131_072  # Bitstring Status List v1.0: at least 16 KB uncompressed
STATUS_PURPOSE = "revocation"
RETIRED_KEYS_DIR = "issuer-keys-retired"
PUBLIC_JWK_MEMBERS = ("kty", "crv", "x", "y")  # never "d"

# The paths of the public documents; lms/certification/badge_views.py routes exactly these.
ISSUER_PATH = "/badges/issuer"
JWKS_PATH = "/badges/jwks.json"
KEY_PATH = "/badges/keys/"  # + thumbprint
ACHIEVEMENT_PATH = "/badges/achievements/"  # + program slug
STATUS_LIST_PATH = "/badges/status/revocation"


class IssuerKeyError(RuntimeError):
    """The issuer key file exists but holds no usable P-256 private key."""


# ---------------------------------------------------------------- addresses and documents (pure)


@dataclass(frozen=True)
class Urls:
    """The public addresses of the badge documents under the site's address (LMS_BASE_URL, no trailing slash)."""

    base: str

    @property
    def issuer(self) -> str:
        return self.base + ISSUER_PATH

    @property
    def jwks(self) -> str:
        return self.base + JWKS_PATH

    @property
    def status_list(self) -> str:
        return self.base + STATUS_LIST_PATH

    def key(self, thumbprint: str) -> str:
        return self.base + KEY_PATH + thumbprint

    def achievement(self, slug: str) -> str:
        return self.base + ACHIEVEMENT_PATH + quote(slug, safe="")


def credential_id(base_url: str, serial: str) -> str:
    """Stable per certificate and site: a UUIDv5 of the site address and the serial."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}/badges/credentials/{serial}").urn


def subject_id(base_url: str, serial: str) -> str:
    """The credential subject's opaque id (OB 3.0 wants `sub` = `credentialSubject.id`): derived from the site and
    the serial only, so it names this certificate's holder without saying anything about them."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}/badges/subjects/{serial}").urn


def identity_hash(email: str, salt: str) -> str:
    """OB 3.0 IdentityHash: the algorithm, `$`, and the hex SHA-256 of the identifier followed by the salt, both
    encoded in UTF-8."""
    return "sha256$" + hashlib.sha256((email + salt).encode("utf-8")).hexdigest()


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def iso_z(moment: datetime) -> str:
    """An ISO 8601 date-time in UTC, to the second, with the `Z` designator."""
    if moment.tzinfo is None:  # the database hands back UTC; a naive value is UTC too
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def issuer_profile(urls: Urls) -> dict[str, Any]:
    return {"id": urls.issuer, "type": ["Profile"], "name": ISSUER_NAME, "url": urls.base or urls.issuer}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def criteria_narrative(rules: Mapping[str, Any], course_titles: Mapping[str, str] | None = None) -> str:
    """What a volunteer had to do, in plain words (Markdown), from a program version's rules as loaded (see
    lms/learning/sync.py). Missing rules fall back to a general description of the same steps."""
    titles = course_titles or {}
    lines = ["Every one of these was completed and checked before the certificate was issued:", ""]
    courses = [titles.get(slug, slug) for slug in rules.get("required_courses") or ()]
    score = rules.get("min_quiz_score")
    quiz = f"its quiz passed with at least {score}%" if score else "its quiz passed"
    if rules.get("critical_questions_must_be_correct", True):
        quiz += " and every critical safety question answered correctly"
    if courses:
        lines.append(f"- **Required courses**: {'; '.join(courses)}. For each course, {quiz}.")
    else:
        lines.append(f"- **Required courses**: every course the program requires, each with {quiz}.")
    wanted = rules.get("practicum") or {}
    parts = []
    if int(wanted.get("observe") or 0):
        parts.append(f"observed {_plural(int(wanted['observe']), 'community session')}")
    if int(wanted.get("co_facilitate") or 0):
        parts.append(f"co-facilitated {_plural(int(wanted['co_facilitate']), 'session')}")
    if int(wanted.get("lead_observed") or 0):
        led = f"led {_plural(int(wanted['lead_observed']), 'session')} while a supervisor observed"
        criteria = [c.get("title") for c in rules.get("rubric") or () if isinstance(c, Mapping) and c.get("title")]
        scale = rules.get("rubric_scale") or ()
        if rules.get("rubric_pass_score"):
            of = f" of {scale[-1]}" if scale else ""
            led += f", scored at least {rules['rubric_pass_score']}{of} on every rubric criterion"
            if criteria:
                led += f" ({', '.join(criteria)})"
        parts.append(led)
    if rules.get("crisis_roleplay_required"):
        parts.append("took part in a crisis role-play")
    practicum = "; ".join(parts) if parts else "sessions observed, co-facilitated and led under supervision"
    lines.append(f"- **Supervised practicum**, each session confirmed by the trainee's supervisor: {practicum}.")
    code = rules.get("code_of_conduct_version")
    lines.append("- **Code of conduct**: the facilitators' code of conduct"
                 + (f" (version {code})" if code else "") + " read and accepted.")
    lines.append("- **Approval**: the trainee's supervisor (or an administrator) reviewed the whole record and "
                 "approved; an administrator of Project New Day then issued the certificate.")
    months = rules.get("validity_months")
    if months:
        lines += ["", f"The certification is valid for {months} months from the day it is issued."]
    return "\n".join(lines)


def achievement_description(title: str, rules: Mapping[str, Any]) -> str:
    text = " ".join(str(rules.get("description") or "").split())
    return text or (f"Certifies a volunteer peer as a {title}: able to lead Project New Day's community sessions "
                    "for people leaving problem drug use.")


def achievement(urls: Urls, *, slug: str, title: str, description: str, narrative: str,
                version: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": urls.achievement(slug), "type": ["Achievement"], "achievementType": "Certification",
                           "name": title, "description": description, "criteria": {"narrative": narrative},
                           "creator": issuer_profile(urls)}
    if version:
        doc["version"] = version
    return doc


@dataclass(frozen=True)
class CredentialFacts:
    """Everything a credential says, as plain values. `email` is only hashed; it never appears in the output."""

    base_url: str
    serial: str
    certificate_id: int
    email: str
    salt: str
    program_slug: str
    program_title: str
    program_version: str
    description: str
    narrative: str
    valid_from: date
    valid_until: date
    issued_at: datetime


def build_credential(f: CredentialFacts) -> dict[str, Any]:
    """The OpenBadgeCredential (unsigned), in the VC Data Model 2.0 shape of OB 3.0."""
    urls = Urls(f.base_url)
    return {
        "@context": list(CREDENTIAL_CONTEXT),
        "id": credential_id(f.base_url, f.serial),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f.program_title,
        "description": (f"{ISSUER_NAME} certifies the holder as a {f.program_title} (program version "
                        f"{f.program_version}), certificate {f.serial}."),
        "issuer": issuer_profile(urls),
        "validFrom": iso_z(start_of_day(f.valid_from)),
        "validUntil": iso_z(end_of_day(f.valid_until)),
        "awardedDate": iso_z(f.issued_at),
        "credentialSubject": {
            "id": subject_id(f.base_url, f.serial),
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityHash": identity_hash(f.email, f.salt),
                            "identityType": "emailAddress", "hashed": True, "salt": f.salt}],
            "achievement": achievement(urls, slug=f.program_slug, title=f.program_title, description=f.description,
                                       narrative=f.narrative, version=f.program_version),
        },
        "credentialStatus": status_entry(urls, f.certificate_id),
    }


def status_entry(urls: Urls, index: int) -> dict[str, Any]:
    return {"id": f"{urls.status_list}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": STATUS_PURPOSE,
            "statusListIndex": str(index), "statusListCredential": urls.status_list}


def _numeric_date(iso: str) -> int:
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def jwt_claims(credential: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """The JWT payload of OB 3.0 section 8.2: the credential itself with the registered claims beside it."""
    issuer = credential["issuer"]
    claims = dict(credential)
    claims["iss"] = issuer["id"] if isinstance(issuer, Mapping) else issuer
    claims["jti"] = credential["id"]
    subject = credential.get("credentialSubject") or {}
    if isinstance(subject, Mapping) and subject.get("id"):
        claims["sub"] = subject["id"]
    claims["nbf"] = _numeric_date(credential["validFrom"])
    if credential.get("validUntil"):
        claims["exp"] = _numeric_date(credential["validUntil"])
    claims["iat"] = int(now.timestamp())
    return claims


# ---------------------------------------------------------------- the status bitstring (pure)


def status_list_size(highest_index: int) -> int:
    """Bits in the list: at least the minimum, grown in whole steps of it to fit the highest index."""
    return STATUS_LIST_MIN_BITS * max(1, -(-(highest_index + 1) // STATUS_LIST_MIN_BITS))


def encode_status_list(indices: Iterable[int], *, size: int | None = None) -> str:
    """The `encodedList` value: multibase base64url (no padding) of the GZIP-compressed bitstring with the bit of
    each index set. Bit 0 is the left-most (most significant) bit of the first byte."""
    indices = sorted(set(indices))
    if indices and indices[0] < 0:
        raise ValueError("a status list index is never negative")
    size = size or status_list_size(indices[-1] if indices else 0)
    if size % 8 or (indices and indices[-1] >= size):
        raise ValueError("the list must be whole bytes and hold every index")
    bits = bytearray(size // 8)
    for i in indices:
        bits[i // 8] |= 0x80 >> (i % 8)
    packed = gzip.compress(bytes(bits), compresslevel=9, mtime=0)  # mtime 0: the same list gives the same bytes
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_status_list(encoded: str) -> bytes:
    """The uncompressed bitstring of an `encodedList`."""
    if not encoded.startswith("u"):
        raise ValueError("not multibase base64url (the prefix 'u')")
    body = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def status_bit(bits: bytes, index: int) -> bool:
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def status_list_credential(urls: Urls, encoded: str, *, now: datetime) -> dict[str, Any]:
    """The BitstringStatusListCredential (unsigned)."""
    return {
        "@context": [VC_CONTEXT],
        "id": urls.status_list,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": urls.issuer,
        "validFrom": iso_z(now),
        "credentialSubject": {"id": urls.status_list + "#list", "type": "BitstringStatusList",
                              "statusPurpose": STATUS_PURPOSE, "encodedList": encoded},
    }


# ---------------------------------------------------------------- keys and signatures (pure)


def public_jwk(key: ECKey, kid: str) -> dict[str, Any]:
    """The public half only (members listed by name, so a private member can never slip through)."""
    members = key.as_dict(private=False)
    return {**{k: members[k] for k in PUBLIC_JWK_MEMBERS}, "kid": kid, "use": "sig", "alg": ALG}


def sign(claims: Mapping[str, Any], key: ECKey, kid: str) -> str:
    """A compact JWS (ES256) of the claims, with OB 3.0's JOSE header."""
    return jwt.encode({"alg": ALG, "kid": kid, "typ": JOSE_TYP}, dict(claims), key, algorithms=[ALG])


# ---------------------------------------------------------------- the issuer key file


def _read_key(path: Path) -> ECKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the issuer key file %s can be read by others (mode %o); it should be 0600", path,
                    stat.S_IMODE(mode))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("kty") != "EC" or data.get("crv") != CURVE or not data.get("d"):
            raise ValueError(f"not a {CURVE} private key")
        return ECKey.import_key(data)
    except (ValueError, TypeError, KeyError, JoseError) as exc:
        # the message names the file and the kind of fault, never its contents
        raise IssuerKeyError(f"{path} does not hold a {CURVE} private key in JWK form ({exc.__class__.__name__}). "
                             "Restore it from the backup; deleting it makes a new key, and credentials signed "
                             "with the old one no longer verify.") from None


def load_or_create_key(path: Path) -> tuple[ECKey, bool]:
    """The key in `path`, made first if there is none; and whether this call made it. Race-safe between processes:
    the new key is written in full under a temporary name (O_CREAT|O_EXCL, mode 0600) and hard-linked to `path`,
    which fails if another process got there first; then theirs is read and ours dropped."""
    try:
        return _read_key(path), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key(CURVE, private=True)
    data = json.dumps(key.as_dict(private=True)).encode("utf-8")
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return _read_key(path), False  # another process won the race: use theirs
        except OSError:  # a file system without hard links: create the file itself exclusively
            if not _write_exclusive(path, data):
                return _read_settled(path), False
        log.info("made the Open Badges issuer key %s (thumbprint %s)", path, key.thumbprint())
        return key, True
    finally:
        temp.unlink(missing_ok=True)


def _write_exclusive(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def _read_settled(path: Path, attempts: int = 50) -> ECKey:
    """Read a key another process is still writing (only without hard links): try again for up to a second."""
    for _ in range(attempts - 1):
        try:
            return _read_key(path)
        except IssuerKeyError:
            _time.sleep(0.02)
    return _read_key(path)


_cache: dict[str, tuple[tuple[int, int, int], ECKey]] = {}
_cache_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def cached_key(path: Path) -> ECKey:
    """The key of `path`, read once per process, read again if the file is replaced (a rotation)."""
    name = str(path)
    with _cache_lock:
        try:
            stamp = _stamp(path)
        except FileNotFoundError:
            stamp = None
        hit = _cache.get(name)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        key, _ = load_or_create_key(path)
        _cache[name] = (_stamp(path), key)
        return key


def clear_key_cache() -> None:
    with _cache_lock:
        _cache.clear()


def retired_public_keys(path: Path) -> list[ECKey]:
    """Earlier issuer keys kept for verification: *.jwk files in `issuer-keys-retired` beside the key file. Only
    their public half is ever used; a file that holds no P-256 key is skipped with a warning."""
    folder = path.parent / RETIRED_KEYS_DIR
    if not folder.is_dir():
        return []
    keys = []
    for file in sorted(folder.glob("*.jwk")):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            if data.get("kty") != "EC" or data.get("crv") != CURVE:
                raise ValueError("not a P-256 key")
            keys.append(ECKey.import_key({k: data[k] for k in PUBLIC_JWK_MEMBERS}))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("skipped %s in the retired issuer keys: %s", file, exc.__class__.__name__)
    return keys


# ---------------------------------------------------------------- the application's side


def _config(name: str) -> Any:
    from flask import current_app

    return current_app.config[name]


def urls() -> Urls:
    return Urls(_config("BASE_URL"))


def key_file() -> Path:
    return Path(_config("ISSUER_KEY_FILE"))


def issuer_key() -> ECKey:
    return cached_key(key_file())


def key_id(key: ECKey) -> str:
    return urls().key(key.thumbprint())


@dataclass(frozen=True)
class KeyReport:
    path: Path
    created: bool
    thumbprint: str

    def __str__(self) -> str:
        made = "made" if self.created else "in place"
        return (f"Open Badges issuer key {made}: {self.path} (key id {self.thumbprint}); keep it secret and in "
                "the backup.")


def ensure_issuer_key() -> KeyReport:
    """For `lms init-db`: make the key if there is none, and say where it is."""
    path = key_file()
    key, created = load_or_create_key(path)
    return KeyReport(path, created, key.thumbprint())


def verification_keys() -> list[ECKey]:
    """The key in force first, then the retired ones, each once."""
    current = issuer_key()
    keys, seen = [current], {current.thumbprint()}
    for key in retired_public_keys(key_file()):
        if key.thumbprint() not in seen:
            seen.add(key.thumbprint())
            keys.append(key)
    return keys


def jwks() -> dict[str, Any]:
    return {"keys": [public_jwk(k, key_id(k)) for k in verification_keys()]}


def find_public_jwk(thumbprint: str) -> dict[str, Any] | None:
    return next((public_jwk(k, key_id(k)) for k in verification_keys() if k.thumbprint() == thumbprint), None)


def sign_claims(claims: Mapping[str, Any]) -> str:
    key = issuer_key()
    return sign(claims, key, key_id(key))


def _program_row(slug: str, version: str | None = None):
    from sqlalchemy import select

    from lms.db import db
    from lms.learning.models import ProgramVersion

    stmt = select(ProgramVersion).where(ProgramVersion.slug == slug)
    if version is not None:
        stmt = stmt.where(ProgramVersion.version == version)
    return db.session.scalar(stmt.order_by(ProgramVersion.current.desc(), ProgramVersion.loaded_at.desc(),
                                           ProgramVersion.id.desc()).limit(1))


def _course_titles(rules: Mapping[str, Any]) -> dict[str, str]:
    from sqlalchemy import select

    from lms.db import db
    from lms.learning.models import Course

    slugs = list(rules.get("required_courses") or ())
    if not slugs:
        return {}
    return {slug: title for slug, title in db.session.execute(select(Course.slug, Course.title)
                                                              .where(Course.slug.in_(slugs)))}


def achievement_document(slug: str) -> dict[str, Any] | None:
    """The Achievement of the program in force with this slug (or its latest version), for the public; None if no
    program has the slug."""
    program = _program_row(slug)
    if program is None:
        return None
    rules = program.rules or {}
    return {"@context": [OB_CONTEXT],
            **achievement(urls(), slug=program.slug, title=program.title,
                          description=achievement_description(program.title, rules),
                          narrative=criteria_narrative(rules, _course_titles(rules)), version=program.version)}


def issuer_document() -> dict[str, Any]:
    return {"@context": [OB_CONTEXT], **issuer_profile(urls()), "jwks_uri": urls().jwks}


def ensure_subject_salt(cert) -> str:
    """The certificate's salt for the identity hash, set at issue. A certificate issued before salts existed gets one
    now, once: the update applies only while it is still empty, so two first downloads at the same moment agree.
    The caller commits."""
    if cert.subject_salt:
        return cert.subject_salt
    from sqlalchemy import update

    from lms.certification.models import Certificate
    from lms.db import db

    db.session.execute(update(Certificate).where(Certificate.id == cert.id, Certificate.subject_salt.is_(None))
                       .values(subject_salt=secrets.token_hex(16)))
    db.session.refresh(cert, attribute_names=["subject_salt"])
    return cert.subject_salt


def credential_facts(cert) -> CredentialFacts:
    program = cert.request.program_version if cert.request is not None else None
    if program is None or program.slug != cert.program_slug or program.version != cert.program_version:
        program = _program_row(cert.program_slug, cert.program_version)
    rules = (program.rules if program is not None else None) or {}
    return CredentialFacts(
        base_url=_config("BASE_URL"), serial=cert.serial, certificate_id=cert.id, email=cert.user.email,
        salt=ensure_subject_salt(cert), program_slug=cert.program_slug, program_title=cert.program_title,
        program_version=cert.program_version, description=achievement_description(cert.program_title, rules),
        narrative=criteria_narrative(rules, _course_titles(rules)), valid_from=cert.valid_from,
        valid_until=cert.valid_until, issued_at=cert.issued_at)


def credential_jwt(cert, viewer=None, *, now: datetime | None = None) -> str:
    """The certificate as a signed OpenBadgeCredential. Like the PDF, a revoked certificate is no longer offered to
    its holder; its supervisor and administrators may still fetch it (the status list shows it revoked)."""
    from lms.certification.models import CertificateState
    from lms.errors import Gone

    if viewer is not None and viewer.id == cert.user_id and cert.state is CertificateState.REVOKED:
        raise Gone(f"Certificate {cert.serial} was revoked, so it is no longer offered as an Open Badge. Its "
                   "verification page shows it as revoked.")
    now = now or datetime.now(UTC)
    return sign_claims(jwt_claims(build_credential(credential_facts(cert)), now=now))


def revoked_indices() -> list[int]:
    from sqlalchemy import select

    from lms.certification.models import Certificate, CertificateState
    from lms.db import db

    return list(db.session.scalars(select(Certificate.id).where(Certificate.state == CertificateState.REVOKED)))


def status_list_document(*, now: datetime | None = None) -> dict[str, Any]:
    from sqlalchemy import func, select

    from lms.certification.models import Certificate
    from lms.db import db

    highest = db.session.scalar(select(func.max(Certificate.id))) or 0
    encoded = encode_status_list(revoked_indices(), size=status_list_size(highest))
    return status_list_credential(urls(), encoded, now=now or datetime.now(UTC))


def status_list_jwt(*, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    doc = status_list_document(now=now)
    claims = {**doc, "iss": doc["issuer"], "jti": doc["id"], "sub": doc["credentialSubject"]["id"],
              "nbf": _numeric_date(doc["validFrom"]), "iat": int(now.timestamp())}
    return sign_claims(claims)
