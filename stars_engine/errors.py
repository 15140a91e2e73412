"""The one exception type the CLI and the TUI turn into a one-line message."""


class StarsError(Exception):
    """A problem the user can fix (bad parameter, missing model, bad file).

    Its message is shown as is, on one line, with no traceback.
    """


class ParamError(StarsError, ValueError):
    """An invalid parameter value; the message names the field and the allowed range."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")

