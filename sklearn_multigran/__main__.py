"""``python -m sklearn_multigran``: the package's main job, a forecast end to end.

The plumbing lives in :mod:`sklearn_multigran._cli`; ``--help`` lists the options.
"""

import sys

from sklearn_multigran._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
