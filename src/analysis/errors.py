"""The one exception type users see: a clear, single-line message and exit code 2."""


class UserError(Exception):
    """Bad input, bad parameter or missing data: shown as one line, never as a traceback."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class Interrupted(UserError):
    """Ctrl-C: the work was stopped cleanly; one line and exit code 130 (128 + SIGINT)."""

    exit_code = 130
