"""The ``audit`` command line. Importing the package first sets the threading defaults
(``cli.threads``), before any command module can load numpy's or torch's OpenMP runtime."""

from cli import threads as threads  # noqa: F401 - imported for its effect on os.environ
