"""The offline gap filler (bidirectional, never live): `estimator` (Backfiller, train_backfill),
`plan` (which gaps a model can fill) and `writer` (the filled CSV with its provenance column)."""
