"""The command line's own error: bad arguments, printed as ``irsim CMD: error: ...``, exit 2."""

from irsim.errors import UserError


class CliError(UserError):
    """A user-facing error about the command line's arguments."""
