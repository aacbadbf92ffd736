"""``python -m feature_zoo``."""

from feature_zoo.cli import main

raise SystemExit(main())
