"""The one error type of the simulator: bad input, named by its field and allowed range."""

from __future__ import annotations


class InputError(ValueError):
    """Invalid input; ``field`` is the dotted path of the offending value (a parameter or
    document field, never a command-line flag: the command line maps fields to its flags)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # Rebuilt from (field, message), so the error survives a process pool's pickling.
        return type(self), (self.field, self.message)
