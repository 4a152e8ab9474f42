"""The exception type the command line turns into a clear message and exit code 2, and the one a stopping signal
raises."""


class FakeitError(Exception):
    """Bad input or state a user can fix; the message names the bad value and what would be valid."""


class Stopped(BaseException):
    """A signal asked a long run to stop: what it finished is kept and the same command resumes it. A BaseException,
    so that no `except Exception` on the way takes it for a failure; the CLI exits with 128 + the signal number."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum
