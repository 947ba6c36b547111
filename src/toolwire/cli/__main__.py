"""`python -m toolwire.cli`, same as the `toolwire` command."""

from __future__ import annotations

from . import main

raise SystemExit(main())
