"""The one error type of the simulator: bad input, named by its field and allowed range."""


class InputError(ValueError):
    """Invalid input; ``field`` is the dotted path of the offending value."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
