"""User-facing errors: one clear line, a CLI exit code, never a traceback."""


class FlowTTSError(Exception):
    """An error caused by input or environment, reported to the user as one line.

    The CLI prints ``flowtts: error: <message>`` and exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class MissingSystemVoiceError(FlowTTSError):
    """A voice or engine the request needs is not installed on this machine."""

    exit_code = 3
