"""Passwords are stored with scrypt outside the test suite, never in clear."""

from lms import config as config_module
from lms.accounts import services
from lms.accounts.models import Role
from lms.db import db


def test_the_default_hash_method_is_scrypt(tmp_path):
    assert config_module.load({"LMS_INSTANCE_PATH": str(tmp_path)})["PASSWORD_HASH_METHOD"] == "scrypt"


def test_a_stored_password_is_a_scrypt_hash_with_the_default_method(app_factory):
    app = app_factory(PASSWORD_HASH_METHOD="scrypt")
    with app.app_context():
        user = services.create_user(actor=None, email="s@example.org", display_name="S", role=Role.TRAINEE,
                                    password="a long enough password")
        db.session.commit()
        assert user.password_hash.startswith("scrypt:")
        assert "a long enough password" not in user.password_hash
        assert services.authenticate("s@example.org", "a long enough password") is user
