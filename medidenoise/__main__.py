"""``python -m medidenoise`` runs the command-line interface (also under torchrun)."""

from medidenoise.cli import main

raise SystemExit(main())
