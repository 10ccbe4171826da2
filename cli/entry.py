"""The ``audit`` console script: the command line, with start-up and usage errors handled too.

A KeyboardInterrupt while ``cli.main`` and its imports load would otherwise end in a traceback;
here it is the same "interrupted" line and exit code 130 as during a command. A usage error (an
unknown option, a value an option's check refuses, such as ``--seed -1``) is one line naming the
option and exit code 2, like every other bad input, instead of click's framed usage box.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        import typer
        from typer.exceptions import TyperException

        from cli.main import app

        try:
            code = app(standalone_mode=False)
        except TyperException as error:  # click's usage errors (typer vendors click)
            format_message = getattr(error, "format_message", None)
            message = format_message() if format_message is not None else str(error)
            sys.stderr.write(f"error: {message}\n")
            sys.exit(getattr(error, "exit_code", 2))
        except typer.Abort:
            sys.stderr.write("interrupted\n")
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
