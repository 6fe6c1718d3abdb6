"""Inference: online windows for the five models (materialized by `barstore materialize`)."""

from .windows import get_window, get_windows, latest_windows, materialize_windows

__all__ = ["get_window", "get_windows", "latest_windows", "materialize_windows"]
