"""Every exception flowwidgets raises, in one place.

    FlowwidgetsError
    ├── SpecError                 a pipelines file is invalid (file, line, what to fix)
    ├── UsageError                a bad command-line option or file (one line, exit 2)
    ├── RunnerError               an action was refused before anything changed: by the
    │   │                         local runner (mapped to HTTP 4xx) or by a Source's own
    │   │                         checks (Airflow, Prefect) before it sends a request
    │   ├── RunNotFound           404: no such run
    │   ├── PipelineNotFound      404: no such pipeline in the runner's pipelines
    │   ├── InvalidAction         422: e.g. restart from a step the run does not have
    │   └── RunConflict           409: e.g. restart of a run that is still running
    └── SourceError               talking to a runner from the kernel went wrong
        ├── RunnerUnavailable     nothing answered at the URL (or it timed out)
        ├── SchemaError           the runner answered JSON of the wrong shape
        ├── ActionNotSupported    this runner cannot do that action (never faked)
        └── APIError              the runner answered an HTTP error; keeps request/response
            ├── Unauthorized      401/403: missing or wrong token
            ├── NotFound          404
            ├── Conflict          409
            ├── Unprocessable     400/422: the runner rejected the request
            └── ServerError       5xx

Messages say what failed and where: the file and line, the URL and endpoint, the field.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "ActionNotSupported",
    "Conflict",
    "FlowwidgetsError",
    "InvalidAction",
    "NotFound",
    "PipelineNotFound",
    "RunConflict",
    "RunNotFound",
    "RunnerError",
    "RunnerUnavailable",
    "SchemaError",
    "ServerError",
    "SourceError",
    "SpecError",
    "Unauthorized",
    "Unprocessable",
    "UsageError",
]


class FlowwidgetsError(Exception):
    """Base of every error raised by flowwidgets."""


class SpecError(FlowwidgetsError, ValueError):
    """A pipelines file (or a pipeline built in Python) is invalid.

    ``path`` and ``line`` locate the problem when it came from a file; the message says
    what is wrong and how to fix it.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class UsageError(FlowwidgetsError):
    """A bad option or file given on the command line: the CLI prints the message (one
    line naming the option or file) and exits 2."""


class RunnerError(FlowwidgetsError):
    """An action was refused before anything changed (by the local runner, or by a Source's
    own checks); ``status_code`` is the HTTP status our API answers it with."""

    status_code = 400

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(detail)


class RunNotFound(RunnerError, LookupError):
    """No run has this id."""

    status_code = 404


class PipelineNotFound(RunnerError, LookupError):
    """The runner has no pipeline of this name."""

    status_code = 404


class InvalidAction(RunnerError, ValueError):
    """The action does not make sense for this run (unknown step, nothing to resume, ...)."""

    status_code = 422


class RunConflict(RunnerError):
    """The run is in a state that forbids the action (still running, say)."""

    status_code = 409


class SourceError(FlowwidgetsError):
    """Base of errors raised while talking to a runner."""


class RunnerUnavailable(SourceError, ConnectionError):
    """Nothing usable answered at the runner's URL."""

    def __init__(self, url: str, reason: str, tried: list[str] | None = None):
        self.url = url
        self.reason = reason
        self.tried = list(tried or [])
        msg = f"no runner reachable at {url}: {reason}"
        if self.tried:
            msg += f" (tried {', '.join(self.tried)})"
        super().__init__(msg)


class SchemaError(SourceError, ValueError):
    """A runner's payload does not have the shape its API promises."""

    def __init__(self, endpoint: str, field: str, problem: str, payload: Any = None):
        self.endpoint = endpoint
        self.field = field
        self.problem = problem
        self.payload = payload
        super().__init__(f"{endpoint}: field {field!r} {problem}")


class ActionNotSupported(SourceError):
    """The runner cannot perform this action; the message says why."""

    def __init__(self, action: str, reason: str):
        self.action = action
        self.reason = reason
        super().__init__(f"{action} is not available: {reason}")


class APIError(SourceError):
    """The runner answered with an HTTP error. ``detail`` is its own explanation."""

    def __init__(self, message: str, *, status_code: int, detail: Any = None,
                 request: Any = None, response: Any = None):
        self.status_code = status_code
        self.detail = detail
        self.request = request
        self.response = response
        super().__init__(message)


class Unauthorized(APIError):
    """401/403: the token is missing or wrong."""


class NotFound(APIError):
    """404: the run, pipeline or endpoint does not exist."""


class Conflict(APIError):
    """409: the run's state forbids the action."""


class Unprocessable(APIError):
    """400/422: the runner rejected the request as invalid."""


class ServerError(APIError):
    """5xx: the runner failed while handling the request."""
