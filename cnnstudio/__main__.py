"""Entry point: ``python -m cnnstudio`` and the ``cnnstudio`` console script.

``cnnstudio [--model FILE] [--screenshot PATH]`` starts the app; ``cnnstudio train ...``,
``cnnstudio predict ...`` and ``cnnstudio export ...`` run headless (no window).
"""
from __future__ import annotations

import sys

HEADLESS_COMMANDS = ("train", "predict", "export")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in HEADLESS_COMMANDS:
        try:  # Ctrl+C while NumPy loads, before the command takes the signal itself (cli.CtrlC)
            from cnnstudio.cli import main as headless_main
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        return headless_main(argv)
    from cnnstudio.app import run
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
