"""``python -m aligngate``."""

from aligngate.cli import main

raise SystemExit(main())
