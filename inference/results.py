"""What a prediction answers: each model's prediction, a symbol's decision, the report of a request (its
`to_dict()` is the JSON of `barstore predict --json` and `POST /predict`), and the two refusals with their HTTP
statuses: `UnknownSymbol` (404) and `ModelUnavailable` (503)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from barstore.errors import BarstoreError

from .ensemble import HOURLY_MODEL, Decision, EnsembleSettings, ModelOutput


class UnknownSymbol(BarstoreError):
    """No model has an online window for the symbol (HTTP 404)."""

    exit_code = 5
    status = 404


class ModelUnavailable(BarstoreError):
    """A model in use cannot predict: no run, no online window, or a stale one (HTTP 503). `models` names them."""

    exit_code = 6
    status = 503

    def __init__(self, message: str, models: Sequence[str], kind: str):
        super().__init__(message)
        self.models = list(models)
        self.kind = kind  # "no_run", "no_window" or "stale_window"


def iso(moment: datetime) -> str:
    """A time as the answers write it: ISO in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ModelPrediction:
    """One model's prediction for one symbol, with the window it was made from."""

    model: str
    run_id: str
    window_end: datetime
    age: timedelta  # as_of - window_end
    max_staleness: timedelta
    p_up: float
    predicted_return: float | None = None  # minute and hourly models
    embedding: tuple[float, ...] | None = None  # the long-term model's 32-d trend embedding
    recent_predictions: tuple[float, ...] | None = None  # hourly: the N previous windows' returns, oldest first
    context_rows: int = 0  # rows stored before the window

    @property
    def recent_level(self) -> float | None:
        return (
            None if not self.recent_predictions else math.fsum(self.recent_predictions) / len(self.recent_predictions)
        )

    @property
    def embedding_sum(self) -> float | None:
        return None if self.embedding is None else math.fsum(self.embedding)

    def output(self) -> ModelOutput:
        return ModelOutput(self.predicted_return, self.p_up, self.embedding)

    def to_dict(self) -> dict:
        out = {
            "run_id": self.run_id,
            "window_end": iso(self.window_end),
            "age_seconds": self.age.total_seconds(),
            "max_staleness_seconds": self.max_staleness.total_seconds(),
            "predicted_return": self.predicted_return,
            "p_up": self.p_up,
        }
        if self.model == HOURLY_MODEL:
            out |= {
                "recent_level": self.recent_level,
                "recent_predictions": None if self.recent_predictions is None else list(self.recent_predictions),
                "context_rows": self.context_rows,
            }
        if self.embedding is not None:
            total = self.embedding_sum
            out |= {
                "embedding_sum": total,
                "embedding_trend": (total > 0) - (total < 0),
                "embedding": list(self.embedding),
            }
        return out


@dataclass(frozen=True)
class SymbolPrediction:
    symbol: str
    models: dict[str, ModelPrediction]  # the models in use, in MODELS order
    decision: Decision

    def to_dict(self) -> dict:
        return {
            "symbol": self.symbol,
            "decision": self.decision.to_dict(),
            "models": {name: p.to_dict() for name, p in self.models.items()},
        }


@dataclass(frozen=True)
class PredictionReport:
    as_of: datetime
    ensemble: EnsembleSettings
    predictions: list[SymbolPrediction]

    def to_dict(self) -> dict:
        """The JSON of `barstore predict --json` and of `POST /predict`."""
        return {
            "as_of": iso(self.as_of),
            "mode": self.ensemble.mode.value,
            "trend_filter": self.ensemble.trend_filter.value,
            "recent_window": self.ensemble.recent_window,
            "predictions": [p.to_dict() for p in self.predictions],
        }
