"""The one exception type that entry points turn into a sentence instead of a traceback."""


class ZeldaError(Exception):
    """A problem the user can fix: the message names the file, line or config key and the fix."""
