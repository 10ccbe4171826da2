"""The ``audit`` console script: the command line, with Ctrl-C during start-up handled too.

A KeyboardInterrupt while ``cli.main`` and its imports load would otherwise end in a traceback;
here it is the same "interrupted" line and exit code 130 as during a command.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from cli.main import app

        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
