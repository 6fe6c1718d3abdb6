-- calendar_sessions: the sessions of every calendar (raw.sessions) over the span of the stored bars, and
-- the instant from which a bar is assigned to each trading day.
-- grain: one row per (calendar, trading_day)
-- materialized: table
-- distribution: broadcast
-- A bar belongs to the last session whose assign_from <= its ts (an ASOF join). assign_from is the
-- session's start when it opens the evening before (Globex, FX), else local midnight of its day or the
-- previous session's end, whichever is later: bars outside the hours (kept by --outside-session keep)
-- then join the day they were stamped on.
WITH span AS (
    SELECT CAST(min(ts) AS DATE) - 3 AS first_day, CAST(max(ts) AS DATE) + 3 AS last_day
    FROM raw.bars
),
sessions AS (
    SELECT s.calendar, s.trading_day, s.session_start, s.session_end, c.tz,
           lag(s.session_end) OVER (PARTITION BY s.calendar ORDER BY s.trading_day) AS previous_end
    FROM raw.sessions AS s
    JOIN raw.calendars AS c ON c.name = s.calendar
)
SELECT
    calendar,
    trading_day,
    least(session_start, greatest(timezone(tz, CAST(trading_day AS TIMESTAMP)), coalesce(previous_end, session_start)))
        AS assign_from,
    session_start,
    session_end
FROM sessions, span
WHERE trading_day BETWEEN span.first_day AND span.last_day
ORDER BY calendar, trading_day
