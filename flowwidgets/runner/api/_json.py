"""Fast JSON answers for the hot GETs: no response-model validation, one C encoder.

FastAPI checks a dict a route returns against the route's ``response_model`` and
serializes it again through the model (about 10 ms for a page of 500 runs). A route that
returns a :class:`FastJSON` skips both; its ``response_model`` still documents the body in
/api/openapi.json, and the Schemathesis test checks every answer against that schema.
Bodies are encoded by orjson: compact, UTF-8, the same JSON values ``json.dumps`` gives.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

__all__ = ["FastJSON"]


class FastJSON(JSONResponse):
    """A JSON response encoded by orjson (``TypeError`` for what JSON cannot hold).

    A :class:`~starlette.responses.JSONResponse` so FastAPI documents the route's
    ``response_model`` as its body."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
