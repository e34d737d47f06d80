"""Every exception flowwidgets raises, in one place: one class per meaning.

    FlowwidgetsError
    ├── SpecError                 a pipelines file is invalid (file, line, what to fix)
    ├── UsageError                a bad command-line option or file (one line, exit 2)
    └── SourceError               a runner could not give or do what was asked
        ├── RunnerUnavailable     nothing answered at the URL (or it timed out)
        ├── SchemaError           the runner answered JSON of the wrong shape
        ├── ActionNotSupported    this runner cannot do that action (never faked)
        └── APIError              a runner refused or failed a request: ``status_code`` and
            │                     ``detail``; ``request``/``response`` when it came over HTTP.
            │                     Raised alike by the local runner in-process (which answers
            │                     it as HTTP ``{"detail"}``), by a Source's own checks before
            │                     it sends anything, and for a runner's HTTP error answer.
            ├── Unauthorized      401/403: missing or wrong token
            ├── NotFound          404: no such run, pipeline, step or endpoint
            ├── Conflict          409: the run's state forbids it (still running, say)
            ├── Unprocessable     400/422: the request is invalid (a step the run lacks...)
            └── ServerError       5xx

Older names, kept as aliases of the same classes (so one ``except`` catches both):
``RunnerError`` = APIError, ``RunNotFound`` = ``PipelineNotFound`` = NotFound,
``RunConflict`` = Conflict, ``InvalidAction`` = Unprocessable.

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
    "UsageError",
    "Unauthorized",
    "Unprocessable",
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


_UNSET: Any = object()


class APIError(SourceError):
    """A runner refused or failed a request. ``detail`` is its own explanation (by default
    the message); ``status_code`` the HTTP status it is (or is answered with)."""

    status_code: int = 400

    def __init__(self, message: str, *, status_code: int | None = None, detail: Any = _UNSET,
                 request: Any = None, response: Any = None):
        if status_code is not None:
            self.status_code = status_code
        self.detail = message if detail is _UNSET else detail
        self.request = request
        self.response = response
        super().__init__(message)


class Unauthorized(APIError):
    """401/403: the token is missing or wrong."""

    status_code = 401


class NotFound(APIError, LookupError):
    """404: the run, pipeline, step or endpoint does not exist."""

    status_code = 404


class Conflict(APIError):
    """409: the run's state forbids the action (still running, already finished...)."""

    status_code = 409


class Unprocessable(APIError, ValueError):
    """400/422: the request is invalid (a step the run does not have, nothing to resume...)."""

    status_code = 422


class ServerError(APIError):
    """5xx: the runner failed while handling the request."""

    status_code = 500


RunnerError = APIError
"""Old name of :class:`APIError` (errors the local runner raised in-process)."""
RunNotFound = NotFound
"""Old name of :class:`NotFound` for a run."""
PipelineNotFound = NotFound
"""Old name of :class:`NotFound` for a pipeline."""
RunConflict = Conflict
"""Old name of :class:`Conflict`."""
InvalidAction = Unprocessable
"""Old name of :class:`Unprocessable`."""
