"""Signals for features above certification (groups): they subscribe without certification importing them.

`certificate_lapsed` is sent, inside the transaction of the change, when a certificate stops being valid:
revoked (`reason="revoked"`), or noticed as expired by maintenance (`reason="expired"`). Receivers take the
certificate as the sender and `actor` (a User or None) and `now` as keywords, and must only flush."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

certificate_lapsed = _signals.signal("certificate-lapsed")
