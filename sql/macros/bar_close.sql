-- bar_close: when a bar starting at `start` is complete by its calendar: a trading day at the session end;
-- a shorter bar after `seconds`, but never past the session end unless it starts after it (off-session bars).
-- Used by resampled_bars for both vendor bars and resampled ones.
CREATE OR REPLACE MACRO bar_close(timeframe, start, seconds, session_end) AS
    CASE
        WHEN timeframe = '1d' THEN session_end
        WHEN start >= session_end THEN start + to_seconds(seconds)
        ELSE least(start + to_seconds(seconds), session_end)
    END;
