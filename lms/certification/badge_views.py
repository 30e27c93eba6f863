"""Open Badges 3.0 on the certification blueprint: the public documents a verifier needs (issuer profile, keys,
achievements, the revocation list) and the holder's download of a certificate as a signed credential. The
documents are built in lms/certification/badges.py."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, abort, request
from flask_login import current_user, login_required

from lms.certification import badges, services
from lms.certification.views import bp
from lms.db import db
from lms.errors import NotFound

PUBLIC_MAX_AGE = 3600  # issuer, keys, achievements: they change rarely
STATUS_MAX_AGE = 60  # the revocation list: a revocation shows within a minute


def _public(body: str, mimetype: str, max_age: int) -> Response:
    """A public document: cacheable, readable from any origin (verifiers and wallets run in browsers too)."""
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _json(doc: Any, max_age: int = PUBLIC_MAX_AGE) -> Response:
    return _public(json.dumps(doc, ensure_ascii=False, indent=2), "application/json", max_age)


@bp.get(badges.ISSUER_PATH)
def badge_issuer():
    response = _json(badges.issuer_document())
    response.headers["Link"] = f'<{badges.urls().jwks}>; rel="jwks"'
    return response


@bp.get(badges.JWKS_PATH)
def badge_jwks():
    return _json(badges.jwks())


@bp.get(badges.KEY_PATH + "<thumbprint>")
def badge_key(thumbprint: str):
    """The `kid` of every credential: it dereferences to the public JWK, as OB 3.0 asks."""
    jwk = badges.find_public_jwk(thumbprint)
    if jwk is None:
        raise NotFound("No such key.")
    return _json(jwk)


@bp.get(badges.ACHIEVEMENT_PATH + "<slug>")
def badge_achievement(slug: str):
    doc = badges.achievement_document(slug)
    if doc is None:
        raise NotFound("No such achievement.")
    return _json(doc)


@bp.get(badges.STATUS_LIST_PATH)
def badge_status_list():
    fmt = request.args.get("format", "jwt")
    if fmt == "json":  # unsigned, for people reading it
        return _json(badges.status_list_document(), STATUS_MAX_AGE)
    if fmt != "jwt":
        abort(400)
    return _public(badges.status_list_jwt(), badges.MEDIA_TYPE, STATUS_MAX_AGE)


@bp.get("/certificates/<serial>/credential")
@login_required
def certificate_credential(serial: str):
    cert = services.get_certificate(serial, current_user)  # holder, their supervisor, admins; else 404
    token = badges.credential_jwt(cert, current_user)  # a revoked one is gone for its holder (410)
    db.session.commit()  # a certificate issued before salts existed has just been given one
    return Response(token, mimetype=badges.MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{cert.serial}.jwt"'})
