"""The OpenAPI 3.1 document, built from the registered routes and the same pydantic models
that validate requests, so the description cannot drift from what the code accepts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

F = TypeVar("F", bound=Callable[..., Any])

API_TITLE = "Carnation API"
API_VERSION = "1"
REF_TEMPLATE = "#/components/schemas/{model}"
# "<id:case_id>" and "<string(maxlength=40):clock>" become "{case_id}" and "{clock}".
_PARAM = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>")
_ERROR_STATUSES = {
    "400": "bad_request: the body is not a JSON object",
    "401": "unauthorized",
    "403": "forbidden",
    "404": "not_found",
    "409": "version_conflict or invalid_transition",
    "422": "validation_error or guard_failed",
    "429": "rate_limited",
    "503": "unavailable: nothing was written",
}


@dataclass(frozen=True)
class ApiDoc:
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    content_type: str = "application/json"
    headers: tuple[str, ...] = ()


def documented(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    status: int = 200,
    public: bool = False,
    content_type: str = "application/json",
    headers: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Attach what the OpenAPI document says about a view, next to the view itself."""

    def attach(view: F) -> F:
        doc = ApiDoc(summary, body, query, status, public, content_type, headers)
        view.api_doc = doc  # type: ignore[attr-defined]
        return view

    return attach


def _models(app: Flask) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for view in app.view_functions.values():
        doc: ApiDoc | None = getattr(view, "api_doc", None)
        if doc is not None and doc.body is not None:
            found[doc.body.__name__] = doc.body
    return list(found.values())


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(doc: ApiDoc, path_params: list[str], method: str, endpoint: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path_params
    ]
    parameters += [
        {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
        for name in doc.headers
    ]
    if doc.query is not None:
        parameters += _query_parameters(doc.query)
    operation: dict[str, Any] = {
        "operationId": endpoint,
        "summary": doc.summary,
        "tags": [endpoint.split(".", 1)[0]],
        "responses": {
            str(doc.status): {
                "description": "success",
                "content": {doc.content_type: {"schema": {}}},
            },
            **{
                status: {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}
                    },
                }
                for status, text in _ERROR_STATUSES.items()
            },
        },
    }
    if parameters:
        operation["parameters"] = parameters
    if doc.body is not None:
        operation["requestBody"] = {
            "required": method not in ("DELETE",),
            "content": {
                "application/json": {
                    "schema": {"$ref": REF_TEMPLATE.format(model=doc.body.__name__)}
                }
            },
        }
    if doc.public:
        operation["security"] = []
    return operation


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "bad_request",
                        "unauthorized",
                        "forbidden",
                        "not_found",
                        "version_conflict",
                        "invalid_transition",
                        "validation_error",
                        "guard_failed",
                        "rate_limited",
                        "unavailable",
                    ],
                },
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every documented route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        doc: ApiDoc | None = getattr(view, "api_doc", None)
        if doc is None:
            continue
        path = _PARAM.sub(r"{\1}", rule.rule)
        params = _PARAM.findall(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                doc, params, method, rule.endpoint
            )
    _, definitions = models_json_schema(
        [(model, "validation") for model in _models(app)], ref_template=REF_TEMPLATE
    )
    schemas = dict(definitions.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": API_TITLE, "version": API_VERSION},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
