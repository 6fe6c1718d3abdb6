"""The validation gate: Great Expectations suites run before every training run and by `barstore validate`.

- `suites/*.json`: the expectations (GX Core 1.x suites, committed without GX's volatile ids), read from the
  project folder (ws.project_dir / "expectations" / "suites"), so editing one needs no reinstall;
- `frames`: the pandas frames they validate, built from the warehouse (DuckDB) and the window dataset (Feast's
  point-in-time output with each view's matched event time), with computed columns where a rule spans columns
  or rows (GX's SQL source does not run on DuckDB, and UnexpectedRowsExpectation has no pandas implementation);
- `suites`, `docs`: loading the suites into an ephemeral GX context, running them, writing Data Docs;
- `report`: outcomes, examples and the rich table; `settings`: the `[validation]` table of barstore_project.toml;
- `gate`: `validate_dataset` / `validate_model`, what training calls.

Nothing here imports great_expectations at import time (it takes seconds); the run does.
"""
