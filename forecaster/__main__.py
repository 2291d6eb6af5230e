"""``python -m forecaster``."""

from forecaster.cli import main

raise SystemExit(main())
