"""The error every layer of the product face raises for bad input: the command line prints it
as one line and exits 2 (the library's callers get it as an exception naming the field)."""


class UserError(Exception):
    """Bad input that is the user's to fix; the message names the input and what is allowed."""
