"""Open Badges 3.0 through the API: a certificate as a signed OpenBadgeCredential (VC-JWT), and the issuer's public
keys. The documents are built by lms.certification.badges; who may fetch a certificate is decided by
lms.certification.services.get_certificate, as for the JSON and the PDF."""

from __future__ import annotations

from flask import Response
from pydantic import BaseModel, Field

from lms.api.core import api_user, route
from lms.certification import badges, services

TAG = "Open Badges"


class BadgeJwk(BaseModel):
    """A public P-256 key (JWK, RFC 7517); never a private member."""

    kty: str = Field(examples=["EC"])
    crv: str = Field(examples=["P-256"])
    x: str
    y: str
    kid: str = Field(description="The key's address, `<site>/badges/keys/<RFC 7638 thumbprint>`: the `kid` of "
                                 "every credential signed with it.")
    use: str = Field(examples=["sig"])
    alg: str = Field(examples=["ES256"])


class BadgeJwks(BaseModel):
    """The issuer's verification keys: the key in force first, then retired ones still honoured."""

    keys: list[BadgeJwk]


@route("/certificates/<serial>/credential", "GET", tag=TAG, response=None, errors=(404, 410),
       media_types=(badges.MEDIA_TYPE,),
       summary="The certificate as an Open Badges 3.0 credential (VC-JWT), for its holder, their supervisor, admins",
       description=(
           "Answers `application/vc+jwt` with `Content-Disposition: attachment; filename=\"<serial>.jwt\"`: a "
           "compact JWS (ES256) whose payload is the OpenBadgeCredential with the claims `iss`, `jti`, `sub`, `nbf`, "
           "`exp` and `iat`. The JOSE header's `kid` is the address of the public key, also listed at "
           "`/badges/jwks.json`. The holder is identified only by a salted SHA-256 of their e-mail. Revocation is "
           "published in the status list named by `credentialStatus`. A revoked certificate is gone (410) for its "
           "holder; anyone who may not see the certificate gets 404."))
def get_certificate_credential(serial: str):
    viewer = api_user()
    cert = services.get_certificate(serial, viewer)
    token = badges.credential_jwt(cert, viewer)
    return Response(token, mimetype=badges.MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{cert.serial}.jwt"',
                             "Cache-Control": "no-store"})


@route("/badges/jwks", "GET", tag=TAG, response=BadgeJwks, public=True,
       summary="The Open Badges issuer's public keys (JWKS, public)",
       description="The same set as `/badges/jwks.json` outside the API: verify a credential's signature with the "
                   "key whose `kid` is the one in the credential's JOSE header.")
def get_badge_jwks():
    return BadgeJwks.model_validate(badges.jwks()).model_dump(mode="json")
