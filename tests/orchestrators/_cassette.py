"""Record the HTTP exchanges of a Source with a real server; replay them in unit tests.

A cassette (``recorded/<scenario>.json``) holds the exchanges in order: method, path with
query, JSON request body, the bearer token sent, status, content type, the server's
``Date`` header (changed-runs windows start from the server's clock) and response body.
Secrets are replaced by labels as they are written: passwords by ``"test-password"``,
each distinct JWT by ``"recorded-token-<n>"`` (in ``/auth/token`` answers and in the
``Authorization`` header alike, so a replay can check which token a request carried).

Replay (:func:`replay_client`) answers each request with the first unused exchange that
has the same method, path and body — an unexpected request fails the test at once
(AssertionError), and ``strict=True`` also fails when recorded exchanges were left unused.
The flavour's clock is pinned to the cassette's ``clock``, so time-window queries match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

RECORDED = Path(__file__).resolve().parent / "recorded"
PASSWORD = "test-password"


@dataclass
class Redactor:
    """Consistent labels for secrets seen while recording."""

    passwords: set[str] = field(default_factory=set)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, value: str, label: str | None = None) -> str:
        """The label of a JWT (new ones get the next number, or ``label``)."""
        if value not in self.tokens:
            self.tokens[value] = label or f"recorded-token-{len(self.tokens) + 1}"
        return self.tokens[value]

    def body(self, data: Any) -> Any:
        """A request body without passwords."""
        if isinstance(data, dict) and "password" in data:
            self.passwords.add(str(data["password"]))
            return {**data, "password": PASSWORD}
        return data

    def response(self, data: Any) -> Any:
        """A response body with tokens replaced by their labels."""
        if isinstance(data, dict) and isinstance(data.get("access_token"), str):
            return {**data, "access_token": self.token(data["access_token"])}
        return data


def _json_or_text(content: bytes) -> tuple[str, Any]:
    try:
        return "json", json.loads(content)
    except ValueError:
        return "text", content.decode("utf-8", errors="replace")


class RecordingTransport(httpx.BaseTransport):
    """Sends through a real transport and keeps every exchange."""

    def __init__(self, redactor: Redactor):
        self.inner = httpx.HTTPTransport()
        self.redactor = redactor
        self.exchanges: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        response = self.inner.handle_request(request)
        try:
            content = response.read()
        finally:
            response.close()
        kind, data = _json_or_text(content)
        auth = request.headers.get("authorization", "")
        self.exchanges.append({
            "method": request.method,
            "path": request.url.raw_path.decode("ascii"),
            "body": self.redactor.body(body),
            "token": self.redactor.token(auth[7:]) if auth.startswith("Bearer ") else None,
            "status": response.status_code,
            "content_type": response.headers.get("content-type"),
            "date": response.headers.get("date"),
            "kind": kind,
            "response": self.redactor.response(data) if kind == "json" else data,
        })
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() in ("content-type", "etag", "date")}
        return httpx.Response(response.status_code, headers=headers, content=content,
                              request=request)

    def close(self) -> None:
        self.inner.close()


def save(scenario: str, exchanges: list[dict[str, Any]], *, base_url: str, clock: datetime,
         software: str, note: str) -> Path:
    """Write ``recorded/<scenario>.json``."""
    RECORDED.mkdir(exist_ok=True)
    path = RECORDED / f"{scenario}.json"
    path.write_text(json.dumps({
        "scenario": scenario, "note": note, "software": software,
        "recorded_from": base_url, "clock": clock.isoformat(), "exchanges": exchanges,
    }, indent=1, sort_keys=False) + "\n")
    return path


@dataclass
class Cassette:
    """A loaded recording."""

    scenario: str
    clock: datetime
    exchanges: list[dict[str, Any]]
    used: list[bool] = field(default_factory=list)
    seen: list[httpx.Request] = field(default_factory=list)

    @classmethod
    def load(cls, scenario: str) -> Cassette:
        """``recorded/<scenario>.json``."""
        data = json.loads((RECORDED / f"{scenario}.json").read_text())
        ex = data["exchanges"]
        return cls(data["scenario"], datetime.fromisoformat(data["clock"]), ex,
                   [False] * len(ex))

    def find(self, method: str, path: str) -> dict[str, Any]:
        """The first recorded exchange for ``method`` and a path starting with ``path``."""
        for ex in self.exchanges:
            if ex["method"] == method and ex["path"].startswith(path):
                return ex
        raise KeyError(f"{self.scenario}: no {method} {path}")

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request from the recording (see the module docstring)."""
        self.seen.append(request)
        path = request.url.raw_path.decode("ascii")
        body = json.loads(request.content) if request.content else None
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        for n, ex in enumerate(self.exchanges):
            if self.used[n] or ex["method"] != request.method or ex["path"] != path:
                continue
            if ex["body"] != body:
                continue
            assert ex["token"] == token, (
                f"{self.scenario}: {request.method} {path} carried token {token!r}, "
                f"the recording carried {ex['token']!r}")
            self.used[n] = True
            headers = {"content-type": ex["content_type"]} if ex["content_type"] else {}
            if ex.get("date"):
                headers["date"] = ex["date"]  # the server's clock: where windows start
            if ex["kind"] == "json":
                content = json.dumps(ex["response"]).encode()
            else:
                content = ex["response"].encode()
            return httpx.Response(ex["status"], headers=headers, content=content)
        left = [f"{e['method']} {e['path']}" for e, u in zip(self.exchanges, self.used,
                                                              strict=True) if not u]
        raise AssertionError(f"{self.scenario}: unexpected {request.method} {path} "
                             f"body={body!r}; unused recordings: {left[:8]}")

    def assert_all_used(self) -> None:
        """Every recorded exchange was asked for."""
        left = [f"{e['method']} {e['path']}" for e, u in zip(self.exchanges, self.used,
                                                              strict=True) if not u]
        assert not left, f"{self.scenario}: recorded but not requested: {left}"


def replay_client(cassette: Cassette) -> httpx.Client:
    """An ``httpx.Client`` answering from ``cassette``."""
    return httpx.Client(transport=httpx.MockTransport(cassette.handler))


# ---- Sources over a given client, with a pinned clock -----------------------------------


def airflow_source(base: str, client: httpx.Client, clock: datetime, *,
                   username: str | None = None, password: str | None = None,
                   token: str | None = None, start: bool = True,
                   timeout: float = 30.0):  # noqa: ANN201
    """What ``connect_airflow`` builds, over ``client``, its clock pinned to ``clock``."""
    from flowwidgets.sources._base import Source
    from flowwidgets.sources._http import SyncHttp
    from flowwidgets.sources.airflow import AirflowFlavour

    http = SyncHttp(base, token, timeout, client)
    flavour = AirflowFlavour(http, username=username, password=password, version="3.3.2",
                             clock=lambda: clock)
    src = Source(base, flavour, http)
    if start:
        src._drive(flavour.start())
    return src


def prefect_source(base: str, client: httpx.Client, clock: datetime):  # noqa: ANN201
    """What ``connect_prefect`` builds, over ``client``, its clock pinned to ``clock``."""
    from flowwidgets.sources._base import Source
    from flowwidgets.sources._http import SyncHttp
    from flowwidgets.sources.prefect import PrefectFlavour

    http = SyncHttp(base, None, 30.0, client)
    return Source(base, PrefectFlavour(version="3.8.8", clock=lambda: clock), http)


def dagster_source(base: str, client: httpx.Client, clock: datetime):  # noqa: ANN201
    """What ``connect_dagster`` builds, over ``client``, its clock pinned to ``clock``."""
    from flowwidgets.sources._base import Source
    from flowwidgets.sources._http import SyncHttp
    from flowwidgets.sources.dagster import DagsterFlavour

    http = SyncHttp(base, None, 30.0, client)
    return Source(base, DagsterFlavour(version="1.13.28", clock=lambda: clock), http)
