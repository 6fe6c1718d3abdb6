"""The ingest call most ingest tests make: crypto calendar unless told, no progress bar."""

from datetime import UTC, datetime

from barstore.ingest import IngestOptions, ingest_files

UTC = UTC
T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def ingest(ws, paths, **opts):
    opts.setdefault("calendar", "crypto_24x7")
    paths = paths if isinstance(paths, list) else [paths]
    return ingest_files(ws, paths, IngestOptions(**opts), progress=False)
