"""``python -m invariants.report COMMAND ...``: the commands of :mod:`invariants.report.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
