-- exact_sums: fixed-point helpers for window sums that must not depend on how DuckDB groups partitions.
-- Windowed sum()/avg() of DOUBLEs round differently depending on which other series share the window
-- operator; a HUGEINT sum is exact, so its result is the same in full, truncated and incremental builds.
-- to_fixed: x in units of 2^-60 (exact scaling; rounded once), enough for any price from 1e-8 to 1e18 in
-- 50-row sums; from_fixed: back to DOUBLE (one correctly rounded conversion).
CREATE OR REPLACE MACRO to_fixed(x) AS CAST(x * 1152921504606846976.0 AS HUGEINT);

CREATE OR REPLACE MACRO from_fixed(s) AS CAST(s AS DOUBLE) / 1152921504606846976.0;
