"""The OpenAPI 3.1 document, built from the operations registered with lms.api.core.route."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from lms.api.core import MODELS, OPERATIONS, openapi_path, route
from lms.api.schemas import BaseModel

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["type", "title", "status", "detail"],
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document(version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    for name, model in MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        path, params = openapi_path(op["rule"])
        params += [{"name": n, "in": "query", "required": False, "schema": s} for n, s in op["query"].items()]
        ok: dict[str, Any] = {"description": HTTPStatus(op["status"]).phrase}
        if op["response"] is not None:
            ok["content"] = {"application/json": {"schema": _ref(op["response"])}}
        for entry in op["media_types"]:
            media_type, schema = entry if isinstance(entry, tuple) else (entry, None)
            if schema is None:
                text = media_type.startswith("text/")
                schema = {"type": "string"} if text else {"type": "string", "format": "binary"}
            ok.setdefault("content", {})[media_type] = {"schema": schema}
        responses: dict[str, Any] = {str(code): {**ok, "description": HTTPStatus(code).phrase}
                                     for code in sorted({op["status"], *op.get("also", ())})}
        codes = set(op["errors"]) | {429} | (set() if op["public"] else {401})
        for code in sorted(codes):
            responses[str(code)] = {"description": HTTPStatus(code).phrase,
                                    "content": {"application/problem+json": {
                                        "schema": {"$ref": "#/components/schemas/Problem"}}}}
        operation: dict[str, Any] = {"operationId": op["operation_id"], "summary": op["summary"],
                                     "tags": [op["tag"]], "responses": responses}
        if op["description"]:
            operation["description"] = op["description"]
        if params:
            operation["parameters"] = params
        if op["body"] is not None:
            operation["requestBody"] = {"required": op["body_required"],
                                        "content": {"application/json": {"schema": _ref(op["body"])}}}
        if op["public"]:
            operation["security"] = []
        if op.get("scopes"):
            operation["x-token-scopes"] = list(op["scopes"])  # integration tokens with one of these may call it
        paths.setdefault(path, {})[op["method"]] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Project New Day facilitator training API", "version": version,
                 "description": "Personal API tokens are created in Settings or with `lms create-token`, "
                                "and sent as `Authorization: Bearer <token>`. Errors are "
                                "`application/problem+json` (RFC 9457)."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "personal API token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "lms_session",
                            "description": "browser session; state changes also need X-CSRFToken"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


@route("/openapi.json", "GET", summary="This document", tag="Meta", public=True)
def openapi_document():
    from importlib.metadata import version

    return build_document(version("pnd-lms"))
