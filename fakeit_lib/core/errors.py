"""The one exception type the command line turns into a clear message and exit code 2."""


class FakeitError(Exception):
    """Bad input or state a user can fix; the message names the bad value and what would be valid."""
