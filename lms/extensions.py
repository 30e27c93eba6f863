"""Extensions, created unbound here and initialised in create_app()."""

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "Please log in to see that page."
login_manager.login_message_category = "info"
login_manager.session_protection = None  # our own server-side sessions do this job (lms/accounts/sessions.py)

csrf = CSRFProtect()


def client_address() -> str:
    # request.remote_addr is already corrected by ProxyFix when LMS_TRUSTED_PROXIES is set
    return get_remote_address() or request.remote_addr or "unknown"


limiter = Limiter(key_func=client_address, default_limits=[], strategy="moving-window")
