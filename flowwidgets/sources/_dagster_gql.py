"""Dagster's GraphQL endpoint as plans: one POST to ``/graphql`` per document, its answer
checked, GraphQL's error unions turned into the project's typed errors.

Dagster answers every field with a union: the expected type or an ``Error`` subtype
(``PythonError``, ``RunNotFoundError``, ``UnauthorizedError``, ...). HTTP status is not a
guide (a ``PythonError`` comes back as HTTP 500 with a valid body), so the body decides.
Runner strings never enter a document: names and ids travel as GraphQL variables.
"""

from __future__ import annotations

from typing import Any

from flowwidgets import errors
from flowwidgets.sources import _fields as F
from flowwidgets.sources._base import Plan
from flowwidgets.sources._http import Request

__all__ = ["ERROR_FIELDS", "gql", "union"]

ENDPOINT = "/graphql"

ERROR_FIELDS = "__typename ... on Error { message } ... on PythonError { message stack }"
"""Selected on every union, so an error always says what happened."""

_NOT_FOUND = frozenset({"RunNotFoundError", "PipelineNotFoundError", "RunGroupNotFoundError",
                        "RepositoryNotFoundError", "ScheduleNotFoundError",
                        "SensorNotFoundError"})
_CONFLICT = frozenset({"RunConflict", "TerminateRunFailure"})
_INVALID = frozenset({"RunConfigValidationInvalid", "InvalidStepError", "InvalidOutputError",
                      "InvalidSubsetError", "ConflictingExecutionParamsError",
                      "NoModeProvidedError", "PresetNotFoundError",
                      "InvalidPipelineRunsFilterError"})


def gql(op: str, query: str, variables: dict[str, Any] | None = None) -> Plan[dict[str, Any]]:
    """POST ``query`` (operation ``op``) with ``variables``; the ``data`` object.

    Raises Unauthorized (401/403 without a GraphQL body), Unprocessable (the server
    rejected the document: its ``errors`` messages), ServerError (any other non-GraphQL
    answer) or SchemaError (``data`` is not an object)."""
    ep = f"POST /graphql {op}"
    reply = yield Request("POST", ENDPOINT, ep, body={"query": query, "variables": variables or {}},
                          probe=True)  # every status comes back: the body says what happened
    body, code = reply.value, reply.status_code
    if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
        if code in (401, 403):
            raise errors.Unauthorized(f"{ep} answered {code}: Dagster refused the request",
                                      status_code=code, detail=body)
        cls = errors.ServerError if code >= 500 else errors.APIError
        if code < 300:
            raise errors.SchemaError(ep, "<body>", "must be a GraphQL answer with 'data'",
                                     body)
        raise cls(f"{ep} answered {code} without a GraphQL body", status_code=code,
                  detail=body)
    if body.get("errors") and not body.get("data"):
        messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                             for e in F.need_list(body["errors"], ep, "errors"))
        raise errors.Unprocessable(f"{ep}: Dagster rejected the query: {messages}",
                                   status_code=code if code >= 400 else 400,
                                   detail=body["errors"])
    return F.need_obj(body.get("data"), ep, "data")


def union(data: dict[str, Any], key: str, expected: str | tuple[str, ...], ep: str,
          where: str = "data") -> dict[str, Any]:
    """``data[key]`` when its ``__typename`` is ``expected``; a Dagster error otherwise
    (its message kept), or SchemaError naming the field."""
    path = F.path(where, key)
    value = F.need_obj(F.req(data, key, ep, where), ep, path)
    kind = F.s(value, "__typename", ep, path, required=True)
    wanted = (expected,) if isinstance(expected, str) else expected
    if kind in wanted:
        return value
    message = F.s(value, "message", ep, path) or ""
    raise error_for(kind or "", message.strip(), ep, path, value)


def error_for(kind: str, message: str, ep: str, path: str, value: Any) -> errors.SourceError:
    """The project's error for one of Dagster's error types."""
    text = f"{ep}: Dagster answered {kind}" + (f": {message}" if message else "")
    detail = {"type": kind, "message": message}
    if kind == "PythonError":
        stack = value.get("stack") if isinstance(value, dict) else None
        if isinstance(stack, list):
            detail["stack"] = "".join(str(s) for s in stack)
        return errors.ServerError(text, status_code=500, detail=detail)
    if kind == "UnauthorizedError":
        return errors.Unauthorized(text, status_code=403, detail=detail)
    if kind in _NOT_FOUND:
        return errors.NotFound(text, status_code=404, detail=detail)
    if kind in _CONFLICT:
        return errors.Conflict(text, status_code=409, detail=detail)
    if kind in _INVALID:
        return errors.Unprocessable(text, status_code=422, detail=detail)
    return errors.SchemaError(ep, f"{path}.__typename", f"is {kind!r}, not an expected type",
                              value)
