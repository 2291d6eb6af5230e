"""Scoring a bundle: `scores` (test-split metrics and backtest folds beside the baselines),
`report` (the markdown report) and `plots` (forecast and evaluation figures)."""
