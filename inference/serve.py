"""The prediction service (`barstore serve`): a FastAPI app over one long-lived `Predictor`.

    POST /predict  {"symbols": [...], "as_of": ISO?, "mode": ?, "trend_filter": ?, "max_staleness": ?}
                   -> the JSON of `barstore predict --json`
    GET  /models   the runs in use (model, run_id, trained_at, test_accuracy, pinned, path) and the models missing
    GET  /healthz  liveness: "ok" with every model loaded, "degraded" with some missing (200 either way)
    POST /reload   look for newer runs now (they are also picked up every [serving] reload_interval)

Errors carry {"detail": message} and, for 503, {"models": [...], "kind": "no_run" | "no_window" |
"stale_window"}: 422 for a body that is not the schema (FastAPI's validation), 400 for values that are (a bad
as_of, mode, trend filter or duration), 404 for an unknown symbol, 503 when a model in use cannot predict.

The app only reads the online store and the checkpoints, so `ingest`, `build` and `materialize` keep running
while it serves. Handlers are plain functions (FastAPI runs them in its thread pool); the Predictor serializes
predictions, so /healthz and /models answer while one runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from barstore.errors import BarstoreError

from .results import ModelUnavailable, UnknownSymbol

if TYPE_CHECKING:
    from .predict import Predictor

MAX_SYMBOLS = 100  # per request: the answer is all or nothing, and symbols are predicted one after another


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbols: list[str] = Field(min_length=1, max_length=MAX_SYMBOLS)
    as_of: str | None = None  # ISO time the windows must be current at (default: now)
    mode: str | None = None  # three_model | four_model (default: [ensemble] mode)
    trend_filter: str | None = None  # none | embedding_sum | direction_prob
    max_staleness: str | dict[str, str] | None = None  # one duration, or per model


def create_app(predictor: Predictor) -> FastAPI:
    """The service over `predictor` (its runs are already loaded: the app starts answering at once)."""
    app = FastAPI(title="barstore predictions", version="1")

    @app.exception_handler(BarstoreError)
    def _barstore_error(request: Request, err: BarstoreError) -> JSONResponse:
        body = {"detail": str(err)}
        if isinstance(err, ModelUnavailable):
            body |= {"models": err.models, "kind": err.kind}
        status = err.status if isinstance(err, UnknownSymbol | ModelUnavailable) else 400
        return JSONResponse(body, status_code=status)

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict:
        report = predictor.predict(
            request.symbols,
            as_of=request.as_of,
            mode=request.mode,
            trend_filter=request.trend_filter,
            max_staleness=request.max_staleness,
        )
        return report.to_dict()

    @app.get("/models")
    def models() -> dict:
        predictor.refresh_runs()
        return predictor.runs.describe()

    @app.get("/healthz")
    def healthz() -> dict:
        runs = predictor.runs
        return {
            "status": "ok" if not runs.missing else "degraded",
            "models_loaded": sorted(runs.loaded),
            "missing": sorted(runs.missing),
        }

    @app.post("/reload")
    def reload() -> dict:
        changed = predictor.refresh_runs(force=True)
        return {"reloaded": changed} | predictor.runs.describe()

    return app
