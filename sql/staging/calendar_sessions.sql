-- calendar_sessions: every trading day of every calendar over the span of the stored bars, as UTC instants.
-- grain: one row per (calendar, trading_day)
-- materialized: table
-- A bar belongs to the last session whose assign_from <= its ts (an ASOF join), so DST and Globex's
-- previous-evening open are resolved once per day here instead of once per bar.
WITH span AS (
    SELECT CAST(min(ts) AS DATE) - 3 AS first_day, CAST(max(ts) AS DATE) + 3 AS last_day
    FROM raw.bars
),
days AS (
    SELECT CAST(d AS DATE) AS trading_day
    FROM span, generate_series(span.first_day, span.last_day, INTERVAL 1 DAY) AS g(d)
)
SELECT
    c.name AS calendar,
    d.trading_day,
    timezone(c.tz, d.trading_day + to_seconds(c.assign_from)) AS assign_from,
    timezone(c.tz, d.trading_day + to_seconds(c.session_open)) AS session_start,
    timezone(c.tz, d.trading_day + to_seconds(c.session_close)) AS session_end
FROM raw.calendars AS c
CROSS JOIN days AS d
WHERE contains(c.weekdays, CAST(isodow(d.trading_day) AS VARCHAR))
ORDER BY calendar, trading_day
