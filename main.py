"""Launch CNN Studio: ``python main.py [--screenshot PATH]``."""
import sys

from cnnstudio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
