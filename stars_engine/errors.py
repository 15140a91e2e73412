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


def one_line(exc: BaseException) -> str:
    """An exception as the one line a run's failure, the workbench and the worker show."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, (ValueError, RuntimeError, StarsError)) else f"{type(exc).__name__}: {text}"
