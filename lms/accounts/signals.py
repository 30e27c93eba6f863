"""Signals for the features above accounts, which subscribe without accounts importing them.

`account_deactivated` is sent inside the deactivating transaction with the User as sender and `actor` (a User or
None) as a keyword; receivers must only flush."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

account_deactivated = _signals.signal("account-deactivated")
