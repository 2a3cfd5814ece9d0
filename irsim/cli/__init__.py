"""The command line: one module per command group; `app` builds the parser and maps errors
to exit codes. Only this package knows flag names."""

from irsim.cli.app import main

__all__ = ["main"]
