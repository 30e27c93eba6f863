"""Open Badges 3.0 over HTTP: the holder downloads the certificate as a VC-JWT, an anonymous verifier checks its
signature against the published keys and its status in the revocation list; who may download; the key file."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from lms.accounts.models import User
from lms.certification import badges, services
from lms.certification.models import Certificate
from lms.db import db
from tests.certification_support import make_cert_tree, make_certificate
from tests.unit.test_badges import CONTEXT, JOSE_HEADERS_ALLOWED, missing_jwt_claims, missing_ob3_fields

REASON = "Conduct outside the program breached the code of conduct."


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


@pytest.fixture
def serial(app, people, tree) -> str:
    return make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)


@pytest.fixture
def other_serial(app, people, serial) -> str:
    return make_certificate(app, people.other_trainee.id, people.other_supervisor.id, people.admin.id)


def cert_row(app, serial: str) -> Certificate:
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
        assert cert is not None
        db.session.expunge(cert)
        return cert


def path_of(url: str) -> str:
    return urlsplit(url).path


def download(browser, serial: str):
    return browser.get(f"/certificates/{serial}/credential")


def verify(client, token: str):
    """What a verifier does: fetch the published keys anonymously and check the signature with them."""
    r = client.get("/badges/jwks.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return jwt.decode(token, KeySet.import_key_set(r.get_json()), algorithms=["ES256"])


def claims_of(app, token: str) -> dict:
    """The payload, once the signature is verified against the published keys."""
    return verify(app.test_client(), token).claims


def status_bits(client) -> bytes:
    r = client.get("/badges/status/revocation")
    assert r.status_code == 200 and r.mimetype == "application/vc+jwt"
    token = verify(client, r.get_data(as_text=True))
    assert token.claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    return badges.decode_status_list(token.claims["credentialSubject"]["encodedList"])


def revoke(app, serial: str, admin_id: int) -> None:
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
        services.revoke_certificate(cert, actor=db.session.get(User, admin_id), reason=REASON)
        db.session.commit()


# ---------------------------------------------------------------- the holder's download, checked like a verifier


def test_the_holder_downloads_a_credential_anyone_can_verify(app, client, people, login_as, serial):
    r = download(login_as("trainee"), serial)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/vc+jwt"
    assert r.headers["Content-Disposition"] == f'attachment; filename="{serial}.jwt"'
    assert r.headers["Cache-Control"] == "no-store"
    token = r.get_data(as_text=True)

    decoded = verify(app.test_client(), token)  # anonymous, another client
    header, payload = decoded.header, decoded.claims
    assert header["alg"] == "ES256" and header["typ"] == "JWT"
    assert set(header) <= JOSE_HEADERS_ALLOWED
    jwks = client.get("/badges/jwks.json").get_json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    assert all("d" not in k for k in jwks["keys"])
    # the kid is a URL that answers the public JWK, as OB 3.0 asks
    kid = header["kid"]
    key_doc = client.get(path_of(kid))
    assert key_doc.status_code == 200
    assert key_doc.get_json() == next(k for k in jwks["keys"] if k["kid"] == kid)
    assert kid.endswith("/" + key_doc.get_json()["kid"].rsplit("/", 1)[1])

    assert missing_ob3_fields(payload) == []
    assert missing_jwt_claims(payload) == []
    assert payload["@context"] == CONTEXT
    assert "vc" not in payload
    cert = cert_row(app, serial)
    assert payload["validFrom"] == f"{cert.valid_from.isoformat()}T00:00:00Z"
    assert payload["validUntil"] == f"{cert.valid_until.isoformat()}T23:59:59Z"
    assert payload["credentialStatus"]["statusListIndex"] == str(cert.id)
    base = app.config["BASE_URL"]
    assert payload["iss"] == f"{base}/badges/issuer"
    assert payload["credentialSubject"]["achievement"]["id"] == f"{base}/badges/achievements/pnd-facilitator"
    assert payload["credentialSubject"]["achievement"]["version"] == "2026.1"
    assert "Course alpha" in payload["credentialSubject"]["achievement"]["criteria"]["narrative"]


def test_the_credential_never_carries_the_email_or_the_name(app, login_as, people, serial):
    token = download(login_as("trainee"), serial).get_data(as_text=True)
    payload_text = claims_of(app, token)
    segment = token.split(".")[1]
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8")  # the bytes as signed
    email = people.trainee.email
    cert = cert_row(app, serial)
    for plain in (email, email.upper(), quote(email), email.replace("@", "\\u0040"), cert.holder_name,
                  people.trainee.display_name, "Tess"):
        assert plain not in raw, plain
        assert plain not in token
    identifier = payload_text["credentialSubject"]["identifier"]
    expected = "sha256$" + hashlib.sha256((email + cert.subject_salt).encode()).hexdigest()
    assert identifier == [{"type": "IdentityObject", "identityType": "emailAddress", "hashed": True,
                           "salt": cert.subject_salt, "identityHash": expected}]
    assert cert.subject_salt and len(cert.subject_salt) == 32


def test_each_download_says_the_same_thing(app, login_as, serial):
    browser = login_as("trainee")
    first = claims_of(app, download(browser, serial).get_data(as_text=True))
    second = claims_of(app, download(browser, serial).get_data(as_text=True))
    first.pop("iat"), second.pop("iat")
    assert first == second


def test_a_certificate_from_before_salts_gets_one_salt(app, login_as, people, serial):
    with app.app_context():
        db.session.execute(update(Certificate).where(Certificate.serial == serial).values(subject_salt=None))
        db.session.commit()
    browser = login_as("trainee")
    hashes = set()
    for _ in range(2):
        r = download(browser, serial)
        assert r.status_code == 200
        claims = claims_of(app, r.get_data(as_text=True))
        hashes.add(claims["credentialSubject"]["identifier"][0]["identityHash"])
    salt = cert_row(app, serial).subject_salt
    assert salt and hashes == {"sha256$" + hashlib.sha256((people.trainee.email + salt).encode()).hexdigest()}


# ---------------------------------------------------------------- revocation


def test_revocation_sets_the_bit_of_that_certificate_only(app, client, people, serial, other_serial):
    cert, other = cert_row(app, serial), cert_row(app, other_serial)
    before = status_bits(client)
    assert not badges.status_bit(before, cert.id) and not badges.status_bit(before, other.id)
    assert not any(before)
    revoke(app, serial, people.admin.id)
    after = status_bits(client)
    assert badges.status_bit(after, cert.id)
    assert not badges.status_bit(after, other.id)
    assert sum(bin(b).count("1") for b in after) == 1
    assert len(after) * 8 == 131_072


def test_superseded_is_not_revoked(app, client, people, serial):
    with app.app_context():
        db.session.execute(update(Certificate).where(Certificate.serial == serial).values(state="superseded"))
        db.session.commit()
    assert not any(status_bits(client))


def test_the_status_list_in_json_for_people(app, client, people, serial):
    revoke(app, serial, people.admin.id)
    r = client.get("/badges/status/revocation?format=json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["credentialSubject"]["statusPurpose"] == "revocation"
    assert badges.status_bit(badges.decode_status_list(doc["credentialSubject"]["encodedList"]),
                             cert_row(app, serial).id)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in r.headers["Cache-Control"]
    assert client.get("/badges/status/revocation?format=xml").status_code == 400


def test_the_status_list_is_signed_with_the_registered_claims(app, client):
    r = client.get("/badges/status/revocation")
    claims = verify(client, r.get_data(as_text=True)).claims
    assert claims["iss"] == claims["issuer"] == f"{app.config['BASE_URL']}/badges/issuer"
    assert claims["jti"] == claims["id"] and claims["sub"] == claims["credentialSubject"]["id"]
    assert claims["@context"] == ["https://www.w3.org/ns/credentials/v2"]


# ---------------------------------------------------------------- who may download


def test_who_may_download(app, client, people, login_as, serial):
    assert download(login_as("supervisor"), serial).status_code == 200
    assert download(login_as("admin"), serial).status_code == 200
    assert download(login_as("other_trainee"), serial).status_code == 404
    assert download(login_as("other_supervisor"), serial).status_code == 404
    assert download(login_as("trainee"), "PND-2099-999999").status_code == 404
    anonymous = client.get(f"/certificates/{serial}/credential")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_after_revocation_the_holder_gets_410_and_the_record_keepers_do_not(app, people, login_as, serial):
    revoke(app, serial, people.admin.id)
    r = download(login_as("trainee"), serial)
    assert r.status_code == 410
    assert "revoked" in r.get_data(as_text=True)
    assert download(login_as("supervisor"), serial).status_code == 200
    assert download(login_as("admin"), serial).status_code == 200


def test_the_certificate_pages_offer_the_download(app, people, login_as, serial):
    browser = login_as("trainee")
    link = f'href="/certificates/{serial}/credential"'
    assert link in browser.get("/certificate").get_data(as_text=True)
    assert link in browser.get(f"/certificates/{serial}").get_data(as_text=True)
    assert "Download as an Open Badge (VC-JWT)" in browser.get("/certificate").get_data(as_text=True)


# ---------------------------------------------------------------- the public documents


def test_the_issuer_profile(app, client):
    r = client.get("/badges/issuer")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    base = app.config["BASE_URL"]
    assert doc["id"] == f"{base}/badges/issuer" and doc["type"] == ["Profile"] and doc["name"] == "Project New Day"
    assert doc["jwks_uri"] == f"{base}/badges/jwks.json"
    assert f'<{base}/badges/jwks.json>; rel="jwks"' == r.headers["Link"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_the_achievement_of_a_program(app, client, tree):
    r = client.get("/badges/achievements/pnd-facilitator")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["id"] == f"{app.config['BASE_URL']}/badges/achievements/pnd-facilitator"
    assert doc["type"] == ["Achievement"] and doc["achievementType"] == "Certification"
    assert doc["name"] == "PND Community Session Facilitator" and doc["description"] == "A program."
    narrative = doc["criteria"]["narrative"]
    for words in ("Course alpha", "at least 80%", "observed 1 community session", "co-facilitated 1 session",
                  "crisis role-play", "code of conduct", "supervisor"):
        assert words in narrative, words
    assert "beta" not in narrative.lower()  # an optional course is not a requirement
    assert client.get("/badges/achievements/no-such-program").status_code == 404


def test_an_unknown_key_is_404(client):
    assert client.get("/badges/keys/not-a-thumbprint").status_code == 404


# ---------------------------------------------------------------- the API


def test_the_api_download_and_its_permissions(app, client, people, login_as, serial):
    r = login_as("trainee").get(f"/api/v1/certificates/{serial}/credential")
    assert r.status_code == 200 and r.mimetype == "application/vc+jwt"
    assert r.headers["Content-Disposition"] == f'attachment; filename="{serial}.jwt"'
    assert missing_ob3_fields(verify(client, r.get_data(as_text=True)).claims) == []
    other = login_as("other_trainee").get(f"/api/v1/certificates/{serial}/credential")
    assert other.status_code == 404 and other.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/certificates/{serial}/credential").status_code == 401
    revoke(app, serial, people.admin.id)
    gone = login_as("trainee").get(f"/api/v1/certificates/{serial}/credential")
    assert gone.status_code == 410 and gone.mimetype == "application/problem+json"


def test_the_api_jwks_is_public_and_documented(client):
    r = client.get("/api/v1/badges/jwks")
    assert r.status_code == 200
    assert r.get_json() == client.get("/badges/jwks.json").get_json()
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/certificates/{serial}/credential"]["get"]
    assert "application/vc+jwt" in op["responses"]["200"]["content"]
    assert {"401", "404", "410"} <= set(op["responses"])
    assert doc["paths"]["/badges/jwks"]["get"]["security"] == []


# ---------------------------------------------------------------- the key file


def test_the_key_file_is_made_private_and_kept_across_app_instances(app_factory, tmp_path):
    first = app_factory()
    client = first.test_client()
    kid = client.get("/badges/jwks.json").get_json()["keys"][0]["kid"]
    path = Path(first.config["ISSUER_KEY_FILE"])
    assert path == (tmp_path / "instance" / "issuer-key.jwk").resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    badges.clear_key_cache()  # as a second process would start: nothing in memory
    second = app_factory()
    assert second.test_client().get("/badges/jwks.json").get_json()["keys"][0]["kid"] == kid


def test_the_key_file_setting_and_init_db(app_factory, tmp_path):
    target = tmp_path / "keys" / "pnd-issuer.jwk"
    app = app_factory(ISSUER_KEY_FILE=str(target))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert f"Open Badges issuer key made: {target}" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "in place" in app.test_cli_runner().invoke(args=["init-db"]).output
    assert not (tmp_path / "instance" / "issuer-key.jwk").exists()
    assert json.loads(target.read_text())["d"] not in result.output


def test_retired_keys_stay_in_the_jwks(app, client):
    old_app_key = client.get("/badges/jwks.json").get_json()["keys"][0]
    path = Path(app.config["ISSUER_KEY_FILE"])
    retired = path.parent / badges.RETIRED_KEYS_DIR
    retired.mkdir()
    path.rename(retired / "2026-05.jwk")  # a planned rotation: the old key's public half stays published
    keys = client.get("/badges/jwks.json").get_json()["keys"]
    assert len(keys) == 2 and keys[1] == old_app_key and keys[0]["kid"] != old_app_key["kid"]
    assert all("d" not in k for k in keys)
    assert client.get(path_of(old_app_key["kid"])).get_json() == old_app_key
