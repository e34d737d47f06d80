"""The error tree is by meaning: the old names are the same classes, so one ``except``
catches a refusal whether the local runner, a Source's own check or an HTTP answer made it."""

from __future__ import annotations

import httpx
import pytest

from flowwidgets import errors


@pytest.mark.parametrize(("old", "new", "code"), [
    ("RunNotFound", "NotFound", 404),
    ("PipelineNotFound", "NotFound", 404),
    ("RunConflict", "Conflict", 409),
    ("InvalidAction", "Unprocessable", 422),
    ("RunnerError", "APIError", 400),
])
def test_old_names_are_aliases_of_one_class_per_meaning(old: str, new: str, code: int) -> None:
    assert getattr(errors, old) is getattr(errors, new)
    exc = getattr(errors, old)("what went wrong")
    assert (exc.status_code, exc.detail, str(exc)) == (code, "what went wrong", "what went wrong")
    assert isinstance(exc, errors.SourceError)


def test_a_local_refusal_and_an_http_answer_are_caught_alike() -> None:
    local = errors.RunConflict("run r1 is running")
    remote = errors.Conflict("POST /api/runs/r1/restart answered 409", status_code=409,
                             detail="run r1 is running", response=httpx.Response(409))
    for exc in (local, remote):
        with pytest.raises(errors.Conflict):
            raise exc
    assert remote.detail == local.detail


def test_lookup_and_value_errors_stay_what_they_were() -> None:
    assert issubclass(errors.NotFound, LookupError)
    assert issubclass(errors.Unprocessable, ValueError)
    assert errors.Unauthorized("x").status_code == 401
    assert errors.ServerError("x").status_code == 500
