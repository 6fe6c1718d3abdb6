"""Inference: online windows (materialized by `barstore materialize`), predictions and the ensemble decision.

The exports load lazily: `inference.ensemble` is plain numpy/pandas and must not pay for torch and Feast."""

from importlib import import_module

_EXPORTS = {
    "get_window": "windows",
    "get_windows": "windows",
    "latest_windows": "windows",
    "materialize_windows": "windows",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
