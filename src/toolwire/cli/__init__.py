"""The `toolwire` command line: a thin shell over the library (needs `pip install "toolwire[cli]"`).

    toolwire chat -p openai -m gpt-4o-mini --tool mytools:get_weather "Weather in Paris?"
    toolwire schema mytools:get_weather --dialect gemini
    toolwire providers
    toolwire calls list --errors
    toolwire calls show 3f2a
    toolwire dashboard
    toolwire demo

typer and rich are imported only when the command runs, so `import toolwire` never pays for them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

MISSING_EXTRA = 'the toolwire command needs typer and rich: pip install "toolwire[cli]"'


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `toolwire` console script. Returns the exit code."""
    try:
        from .app import build_app
    except ImportError as exc:
        if exc.name in {"typer", "rich", "click"} or "typer" in str(exc) or "rich" in str(exc):
            from ..errors import ConfigurationError

            print(f"toolwire: {ConfigurationError(MISSING_EXTRA)}", file=sys.stderr)
            return 2
        raise
    app = build_app()
    try:
        app(args=list(argv) if argv is not None else None, prog_name="toolwire", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
