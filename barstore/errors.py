"""User-facing errors: the CLI prints their message and exits non-zero, without a traceback."""


class BarstoreError(Exception):
    """An error whose message is meant for the user as it is."""

    exit_code = 1


class IngestError(BarstoreError):
    """Bad input file; the message names the file, the row and the reason."""

    exit_code = 2


class WarehouseLocked(BarstoreError):
    """Another process holds the DuckDB write lock."""

    exit_code = 3


class ModelError(BarstoreError):
    """A SQL model failed to parse, resolve or run; the message names the model file."""

    exit_code = 4
