"""Open Badges 3.0, the pure parts: the credential's fields against what the specifications require, the JWT claims,
the revocation bitstring, the criteria text, signing, and the issuer key file (made once, mode 0600, one key however
many processes race to make it)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import multiprocessing
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from lms.certification import badges
from tests.concurrency import together

BASE = "https://training.example.org"
EMAIL = "tess.trainee@example.org"
SALT = "5d1f0c2a9b8e7d6c5b4a39281706f5e4"

# ---------------------------------------------------------------- what the specifications require
#
# Open Badges 3.0 (1EdTech, final, with the VC Data Model 2.0), appendix B data models, "Required" / [1] / [1..*]:
#   AchievementCredential (OpenBadgeCredential): @context, id, type, name, issuer, validFrom, credentialSubject;
#     @context: first "https://www.w3.org/ns/credentials/v2", then the OB 3.0 context;
#     type: contains "VerifiableCredential" and "OpenBadgeCredential" (or its alias "AchievementCredential").
#   Profile: id, type (contains "Profile").
#   AchievementSubject: type (contains "AchievementSubject"), achievement; and either id or at least one identifier.
#   Achievement: id, type (contains "Achievement"), name, description, criteria.
#   Criteria: id and narrative are each optional, but one of them must say what the criteria are.
#   IdentityObject: type ("IdentityObject"), hashed, identityHash, identityType (salt optional).
#   CredentialStatus (VC Data Model 2.0): type (id optional since OB 3.0 document version 1.4).
# W3C Bitstring Status List v1.0, BitstringStatusListEntry: type, statusPurpose, statusListIndex,
#   statusListCredential.
# OB 3.0 section 8.2, JSON Web Token Proof Format: the payload is the credential itself (no `vc` claim) with the
#   registered claims iss (= issuer.id), jti (= id), sub (= credentialSubject.id), nbf (= validFrom), and exp
#   (= validUntil) when the credential has a validUntil. JOSE header: alg required; kid (a URI dereferencing to
#   the JWK) or jwk; typ, if present, "JWT"; no other header.
REQUIRED: dict[str, tuple[str, ...]] = {
    "OpenBadgeCredential": ("@context", "id", "type", "name", "issuer", "validFrom", "credentialSubject"),
    "Profile": ("id", "type"),
    "AchievementSubject": ("type", "achievement"),
    "Achievement": ("id", "type", "name", "description", "criteria"),
    "IdentityObject": ("type", "hashed", "identityHash", "identityType"),
    "BitstringStatusListEntry": ("type", "statusPurpose", "statusListIndex", "statusListCredential"),
    "JWT": ("iss", "jti", "sub", "nbf"),
}
CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
JOSE_HEADERS_ALLOWED = {"alg", "kid", "jwk", "typ"}


def _types(obj: dict[str, Any]) -> list[str]:
    t = obj.get("type")
    return [t] if isinstance(t, str) else list(t or [])


def missing_ob3_fields(credential: dict[str, Any]) -> list[str]:
    """Every field the specifications above require and `credential` lacks, by path."""
    missing = [f"credential.{k}" for k in REQUIRED["OpenBadgeCredential"] if credential.get(k) in (None, "", [])]
    if credential.get("@context") != CONTEXT:
        missing.append("credential.@context (the VC 2.0 context, then the OB 3.0.3 context)")
    types = _types(credential)
    if "VerifiableCredential" not in types or not {"OpenBadgeCredential", "AchievementCredential"} & set(types):
        missing.append("credential.type")
    issuer = credential.get("issuer") or {}
    missing += [f"issuer.{k}" for k in REQUIRED["Profile"] if not issuer.get(k)]
    if "Profile" not in _types(issuer):
        missing.append("issuer.type Profile")
    subject = credential.get("credentialSubject") or {}
    missing += [f"credentialSubject.{k}" for k in REQUIRED["AchievementSubject"] if not subject.get(k)]
    if "AchievementSubject" not in _types(subject):
        missing.append("credentialSubject.type AchievementSubject")
    if not subject.get("id") and not subject.get("identifier"):
        missing.append("credentialSubject.id or credentialSubject.identifier")
    for i, ident in enumerate(subject.get("identifier") or []):
        missing += [f"identifier[{i}].{k}" for k in REQUIRED["IdentityObject"] if ident.get(k) in (None, "")]
        if ident.get("type") != "IdentityObject":
            missing.append(f"identifier[{i}].type IdentityObject")
    ach = subject.get("achievement") or {}
    missing += [f"achievement.{k}" for k in REQUIRED["Achievement"] if not ach.get(k)]
    if "Achievement" not in _types(ach):
        missing.append("achievement.type Achievement")
    criteria = ach.get("criteria") or {}
    if not criteria.get("id") and not criteria.get("narrative"):
        missing.append("achievement.criteria.id or narrative")
    if "creator" in ach:
        missing += [f"achievement.creator.{k}" for k in REQUIRED["Profile"] if not ach["creator"].get(k)]
    status = credential.get("credentialStatus")
    if status is not None:
        missing += [f"credentialStatus.{k}" for k in REQUIRED["BitstringStatusListEntry"] if not status.get(k)]
    return missing


def missing_jwt_claims(payload: dict[str, Any]) -> list[str]:
    """The OB 3.0 JWT claims missing or not matching the credential they carry."""
    missing = [k for k in REQUIRED["JWT"] if k not in payload]
    if "vc" in payload:
        missing.append("no vc claim (VC Data Model 2.0: the payload is the credential)")
    if payload.get("iss") != (payload.get("issuer") or {}).get("id"):
        missing.append("iss = issuer.id")
    if payload.get("jti") != payload.get("id"):
        missing.append("jti = id")
    if payload.get("sub") != (payload.get("credentialSubject") or {}).get("id"):
        missing.append("sub = credentialSubject.id")
    if payload.get("nbf") != _epoch(payload.get("validFrom")):
        missing.append("nbf = validFrom")
    if payload.get("validUntil") and payload.get("exp") != _epoch(payload["validUntil"]):
        missing.append("exp = validUntil")
    return missing


def _epoch(iso: str | None) -> int | None:
    if not iso:
        return None
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def facts(**changes) -> badges.CredentialFacts:
    values = dict(base_url=BASE, serial="PND-2026-000042", certificate_id=42, email=EMAIL, salt=SALT,
                  program_slug="pnd-facilitator", program_title="PND Community Session Facilitator",
                  program_version="2026.1", description="Certifies a volunteer peer.", narrative="Do the things.",
                  valid_from=date(2026, 3, 2), valid_until=date(2028, 3, 1),
                  issued_at=datetime(2026, 3, 2, 14, 5, 6, 789, tzinfo=UTC))
    values.update(changes)
    return badges.CredentialFacts(**values)


# ---------------------------------------------------------------- the credential


def test_the_credential_has_every_field_open_badges_3_requires():
    credential = badges.build_credential(facts())
    assert missing_ob3_fields(credential) == []
    assert credential["@context"] == CONTEXT
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"] == {"id": f"{BASE}/badges/issuer", "type": ["Profile"], "name": "Project New Day",
                                    "url": BASE}
    ach = credential["credentialSubject"]["achievement"]
    assert ach["id"] == f"{BASE}/badges/achievements/pnd-facilitator"
    assert ach["achievementType"] == "Certification"
    assert ach["name"] == "PND Community Session Facilitator"
    assert ach["creator"] == credential["issuer"]
    assert ach["criteria"] == {"narrative": "Do the things."}


def test_the_checker_notices_a_missing_field():
    credential = badges.build_credential(facts())
    del credential["credentialSubject"]["achievement"]["criteria"]
    credential["@context"] = list(reversed(CONTEXT))
    del credential["credentialSubject"]["identifier"][0]["identityType"]
    missing = missing_ob3_fields(credential)
    assert {"achievement.criteria", "identifier[0].identityType"} <= set(missing)
    assert any(m.startswith("credential.@context") for m in missing)


def test_validity_is_whole_days_in_utc():
    credential = badges.build_credential(facts())
    assert credential["validFrom"] == "2026-03-02T00:00:00Z"
    assert credential["validUntil"] == "2028-03-01T23:59:59Z"
    assert credential["awardedDate"] == "2026-03-02T14:05:06Z"


def test_the_credential_id_is_stable_per_certificate_and_site():
    one = badges.build_credential(facts())
    assert one["id"] == badges.build_credential(facts(email="other@example.org", salt="ab"))["id"]
    assert one["id"].startswith("urn:uuid:")
    assert one["id"] != badges.build_credential(facts(serial="PND-2026-000043"))["id"]
    assert one["id"] != badges.build_credential(facts(base_url="https://elsewhere.example"))["id"]
    assert one["credentialSubject"]["id"].startswith("urn:uuid:")
    assert one["credentialSubject"]["id"] != one["id"]


def test_the_holder_is_a_salted_hash_and_nothing_else():
    credential = badges.build_credential(facts())
    subject = credential["credentialSubject"]
    assert subject["identifier"] == [{
        "type": "IdentityObject", "identityType": "emailAddress", "hashed": True, "salt": SALT,
        "identityHash": "sha256$" + hashlib.sha256((EMAIL + SALT).encode()).hexdigest()}]
    assert set(subject) == {"id", "type", "identifier", "achievement"}
    text = json.dumps(credential)
    assert EMAIL not in text and "tess.trainee" not in text.lower() and "Tess" not in text


def test_identity_hash_follows_the_example_of_the_specification():
    # OB 3.0, IdentityHash: 'a@example.com' salted with 'Kosher'
    assert badges.identity_hash("a@example.com", "Kosher") == (
        "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399")


def test_the_status_entry_points_at_the_revocation_list():
    status = badges.build_credential(facts())["credentialStatus"]
    assert status == {"id": f"{BASE}/badges/status/revocation#42", "type": "BitstringStatusListEntry",
                      "statusPurpose": "revocation", "statusListIndex": "42",
                      "statusListCredential": f"{BASE}/badges/status/revocation"}


def test_jwt_claims_are_the_credential_with_the_registered_claims():
    credential = badges.build_credential(facts())
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    claims = badges.jwt_claims(credential, now=now)
    assert missing_jwt_claims(claims) == []
    assert claims["iss"] == f"{BASE}/badges/issuer"
    assert claims["nbf"] == int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
    assert claims["exp"] == int(datetime(2028, 3, 1, 23, 59, 59, tzinfo=UTC).timestamp())
    assert claims["iat"] == int(now.timestamp())
    assert {k: v for k, v in claims.items() if k not in {"iss", "jti", "sub", "nbf", "exp", "iat"}} == credential


# ---------------------------------------------------------------- criteria


RULES = {
    "description": "Certifies a volunteer peer to lead the weekly sessions.",
    "required_courses": ["facilitator-role", "group-dynamics"], "min_quiz_score": 80,
    "critical_questions_must_be_correct": True,
    "practicum": {"observe": 2, "co_facilitate": 4, "lead_observed": 1}, "crisis_roleplay_required": True,
    "rubric": [{"id": "opening", "title": "Opening statement"}, {"id": "safety", "title": "Safety"}],
    "rubric_scale": [1, 4], "rubric_pass_score": 3, "code_of_conduct_version": "2026-01", "validity_months": 24,
}


def test_the_criteria_say_what_was_required_in_plain_words():
    text = badges.criteria_narrative(RULES, {"facilitator-role": "The facilitator's role"})
    for words in ("The facilitator's role", "group-dynamics", "at least 80%", "critical safety question",
                  "observed 2 community sessions", "co-facilitated 4 sessions",
                  "led 1 session while a supervisor observed", "at least 3 of 4 on every rubric criterion",
                  "Opening statement, Safety", "crisis role-play", "code of conduct (version 2026-01)",
                  "supervisor", "approved", "24 months"):
        assert words in text, words


def test_the_criteria_without_rules_still_name_every_step():
    text = badges.criteria_narrative({})
    for words in ("Required courses", "Supervised practicum", "Code of conduct", "Approval"):
        assert words in text
    assert badges.achievement_description("X Facilitator", {}).startswith("Certifies a volunteer peer as a X")
    assert badges.achievement_description("X", RULES) == RULES["description"]


# ---------------------------------------------------------------- the status bitstring


def test_an_empty_list_is_sixteen_kilobytes_of_zeros():
    encoded = badges.encode_status_list([])
    assert encoded.startswith("u") and "=" not in encoded
    assert set(encoded[1:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    bits = badges.decode_status_list(encoded)
    assert len(bits) * 8 == 131_072 == badges.STATUS_LIST_MIN_BITS
    assert not any(bits)


def test_bits_are_counted_from_the_left_of_the_first_byte():
    encoded = badges.encode_status_list([0, 9, 131_071])
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert raw[0] == 0b1000_0000 and raw[1] == 0b0100_0000 and raw[-1] == 0b0000_0001
    assert sum(bin(b).count("1") for b in raw) == 3


def test_the_list_grows_in_whole_steps_for_high_indices():
    assert badges.status_list_size(0) == badges.status_list_size(131_071) == 131_072
    assert badges.status_list_size(131_072) == 262_144
    bits = badges.decode_status_list(badges.encode_status_list([200_000]))
    assert len(bits) == 262_144 // 8 and badges.status_bit(bits, 200_000)
    with pytest.raises(ValueError):
        badges.encode_status_list([-1])
    with pytest.raises(ValueError):
        badges.encode_status_list([131_072], size=131_072)


def test_the_same_list_encodes_to_the_same_text():
    assert badges.encode_status_list([3, 1, 3]) == badges.encode_status_list([1, 3])


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=300_000), max_size=50))
def test_decoding_gives_back_exactly_the_set_bits(indices):
    bits = badges.decode_status_list(badges.encode_status_list(indices))
    assert len(bits) * 8 >= max([131_072, *(i + 1 for i in indices)])
    probe = set(indices) | {0, 1, 7, 8, 131_071} | {i + 1 for i in indices}
    for i in probe:
        if i < len(bits) * 8:
            assert badges.status_bit(bits, i) == (i in indices)


def test_the_status_list_credential():
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    doc = badges.status_list_credential(badges.Urls(BASE), "uXYZ", now=now)
    assert doc == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"{BASE}/badges/status/revocation",
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": f"{BASE}/badges/issuer",
        "validFrom": "2026-05-01T12:00:00Z",
        "credentialSubject": {"id": f"{BASE}/badges/status/revocation#list", "type": "BitstringStatusList",
                              "statusPurpose": "revocation", "encodedList": "uXYZ"},
    }


# ---------------------------------------------------------------- signing


def test_a_signed_credential_verifies_with_the_public_key_only():
    key = ECKey.generate_key("P-256", private=True)
    kid = badges.Urls(BASE).key(key.thumbprint())
    claims = badges.jwt_claims(badges.build_credential(facts()), now=datetime(2026, 5, 1, tzinfo=UTC))
    token = badges.sign(claims, key, kid)
    jwk = badges.public_jwk(key, kid)
    assert "d" not in jwk and set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert jwk["alg"] == "ES256" and jwk["use"] == "sig" and jwk["crv"] == "P-256"
    decoded = jwt.decode(token, KeySet.import_key_set({"keys": [jwk]}), algorithms=["ES256"])
    assert decoded.header == {"alg": "ES256", "kid": kid, "typ": "JWT"}
    assert set(decoded.header) <= JOSE_HEADERS_ALLOWED
    assert decoded.claims == claims
    other = ECKey.generate_key("P-256", private=True)
    with pytest.raises(Exception, match="signature"):
        jwt.decode(token, other, algorithms=["ES256"])


# ---------------------------------------------------------------- the key file


def test_the_key_file_is_made_once_with_mode_0600(tmp_path):
    path = tmp_path / "instance" / "issuer-key.jwk"
    key, created = badges.load_or_create_key(path)
    assert created and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["kty"] == "EC" and data["crv"] == "P-256" and data["d"]
    again, created_again = badges.load_or_create_key(path)
    assert not created_again and again.thumbprint() == key.thumbprint()
    assert [p.name for p in path.parent.iterdir()] == ["issuer-key.jwk"]  # no temporary file left


def test_a_broken_key_file_is_refused_without_showing_it(tmp_path):
    path = tmp_path / "issuer-key.jwk"
    path.write_text('{"kty": "EC", "crv": "P-256", "x": "secret-looking", "d": "do-not-print"}')
    with pytest.raises(badges.IssuerKeyError) as exc:
        badges.load_or_create_key(path)
    assert "do-not-print" not in str(exc.value) and str(path) in str(exc.value)
    path.write_text(json.dumps(ECKey.generate_key("P-256", private=True).as_dict(private=False)))
    with pytest.raises(badges.IssuerKeyError, match="private key"):
        badges.load_or_create_key(path)


def test_a_replaced_key_file_is_noticed_by_the_cache(tmp_path):
    path = tmp_path / "issuer-key.jwk"
    first = badges.cached_key(path)
    assert badges.cached_key(path) is first
    path.rename(tmp_path / "old.jwk")
    second = badges.cached_key(path)
    assert second.thumbprint() != first.thumbprint()
    assert badges.cached_key(path) is second


def test_threads_racing_to_make_the_key_end_with_one(tmp_path):
    path = tmp_path / "issuer-key.jwk"

    def make(_: int) -> tuple[str, bool]:
        key, created = badges.load_or_create_key(path)
        return key.thumbprint(), created

    results = together(make, 8)
    assert len({thumb for thumb, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert ECKey.import_key(json.loads(path.read_text())).thumbprint() == results[0][0]


def _make_in_process(path: str, barrier, queue) -> None:
    barrier.wait()
    key, created = badges.load_or_create_key(Path(path))
    queue.put((key.thumbprint(), created))


def test_processes_racing_to_make_the_key_end_with_one(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    path = tmp_path / "issuer-key.jwk"
    n = 4
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_make_in_process, args=(str(path), barrier, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len({thumb for thumb, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["issuer-key.jwk"]


def test_retired_keys_give_only_their_public_half(tmp_path, caplog):
    path = tmp_path / "issuer-key.jwk"
    folder = tmp_path / badges.RETIRED_KEYS_DIR
    folder.mkdir()
    old = ECKey.generate_key("P-256", private=True)
    (folder / "2025.jwk").write_text(json.dumps(old.as_dict(private=True)))
    (folder / "junk.jwk").write_text("not json")
    (folder / "rsa.jwk").write_text('{"kty": "RSA", "n": "x", "e": "AQAB"}')
    keys = badges.retired_public_keys(path)
    assert [k.thumbprint() for k in keys] == [old.thumbprint()]
    assert "d" not in keys[0].as_dict(private=False)
    assert not keys[0].is_private
    assert "junk.jwk" in caplog.text
