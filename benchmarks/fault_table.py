"""Print the fault-injection table: fault x provider -> survived / typed error (issue 6).

    python benchmarks/fault_table.py            # sync driver
    python benchmarks/fault_table.py --async    # both drivers (cells merge when they agree)

Runs the scenarios of tests/test_faults.py against the loopback fault server; every cell has
already asserted that nothing was lost (caller's messages unchanged, same body on every attempt,
partial text and complete tool calls kept on an interrupted stream).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_faults import fault_table

if __name__ == "__main__":
    modes = ("sync", "async") if "--async" in sys.argv else ("sync",)
    print(fault_table(modes))
