"""barstore: bars in DuckDB, SQL feature models, Feast serving, LSTM training."""

__version__ = "0.1.0"
