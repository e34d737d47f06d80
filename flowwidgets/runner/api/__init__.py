"""The local runner's HTTP status API (FastAPI), compatible with ematix-flow's ``flow web``.

    app = create_app(runner, token=None)      # serve it with serve_in_thread or uvicorn

Routes (all JSON, errors ``{"detail": ...}``, times ISO-8601 UTC with ``Z``):

    GET  /api/health                                 open without a token
    GET  /api/pipelines                              every pipeline, whole-history stats
    GET  /api/runs?pipeline=&status=&limit=&offset=  a page of run summaries
    GET  /api/runs/{id}                              detail: steps, attempts, actions
    GET  /api/runs/{id}/steps/{step}/log?attempt=N   an attempt's log tail and error
    GET  /api/events                                 server-sent events (Last-Event-ID;
                                                     ``reset``: re-read everything)
    POST /api/runs/{id}/restart {"from_step": ...}   → {"new_run_id": ...}
    POST /api/runs/{id}/rerun
    POST /api/runs/{id}/resume-from-watermark
    POST /api/jobs/{name}/run-now  (alias /api/pipelines/{name}/run-now)
    GET  /status?pipeline=   GET /outputs?pipeline=  flowtoy's runner API

GETs carry weak ETags (304 on ``If-None-Match``); POSTs take ``Idempotency-Key``. The hot
GETs skip response-model validation (``_json.FastJSON``); the schema still documents them.
OpenAPI at /api/openapi.json, docs at /api/docs.
"""

from flowwidgets.runner.api._app import TOKEN_ENV, create_app

__all__ = ["TOKEN_ENV", "create_app"]
