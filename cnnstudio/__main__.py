"""Entry point: ``python -m cnnstudio`` and the ``cnnstudio`` console script."""
from __future__ import annotations

import sys


def main(argv=None) -> int:
    from cnnstudio.app import run
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
