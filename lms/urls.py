"""Absolute links for e-mails and documents, built from LMS_BASE_URL so they work outside a request too."""

from flask import current_app


def external_url(endpoint: str, **values: object) -> str:
    adapter = current_app.url_map.bind("localhost", url_scheme="http")
    path = adapter.build(endpoint, values)
    return current_app.config["BASE_URL"] + path
