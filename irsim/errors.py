"""The error every layer of the product face raises for bad input: the command line prints it
as one line and exits 2 (the library's callers get it as an exception naming the field)."""


class UserError(Exception):
    """Bad input that is the user's to fix; the message names the input and what is allowed."""


#: The longest error line irsim prints or returns: enough for any message of its own, while a
#: value echoed back (botocore quotes what it refuses) cannot make a line of megabytes.
MAX_MESSAGE_CHARS = 600


def shortened(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` cut in the middle to at most about ``limit`` characters, saying how much was
    cut: its head (what is wrong) and its tail (what is allowed) are kept."""
    if len(message) <= limit:
        return message
    head, tail = message[: limit * 2 // 3], message[-(limit // 4):]
    return f"{head} … [{len(message) - len(head) - len(tail):,} characters cut] … {tail}"
