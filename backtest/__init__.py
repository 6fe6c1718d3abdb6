"""Backtest: walk-forward comparison of ensemble strategies, honestly costed, with bootstrap intervals.

- `backtest.positions`: decisions per instrument -> positions, per-period net returns and the trade list
  (`simulate`, rules in `PositionRules` from the `[backtest]` table of barstore_project.toml);
- `backtest.metrics`: trades, win rate, average profit per trade, total return, Sharpe annualized by the
  calendar, max drawdown, exposure, profit factor (`strategy_metrics`);
- `backtest.bootstrap`: stationary-bootstrap 95% intervals for differences between strategies on the same
  periods (average profit, Sharpe) and for a trend filter's effect.

Pure numpy/pandas/arch: nothing here imports torch or Feast, so a backtest runs on predictions saved to disk.
"""
