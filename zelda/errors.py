"""The one exception type that entry points turn into a sentence instead of a traceback."""


class ZeldaError(Exception):
    """A problem the user can fix: the message names the file, line or config key and the fix."""


def find_zelda_error(error: BaseException | None) -> ZeldaError | None:
    """The ZeldaError behind `error`, also when wrapped (e.g. by Hydra's instantiate)."""
    while error is not None:
        if isinstance(error, ZeldaError):
            return error
        error = error.__cause__ or error.__context__
    return None


def user_error(error: BaseException) -> ZeldaError:
    """The ZeldaError behind `error`, for entry points to print as a sentence;
    re-raises `error` itself when it is not one (a bug deserves its traceback)."""
    reason = find_zelda_error(error)
    if reason is None:
        raise error
    # a loader worker's error comes back as "Caught ZeldaError in DataLoader worker ...",
    # with the worker's traceback in the message: keep only the original sentence
    marker = f"{ZeldaError.__module__}.{ZeldaError.__name__}: "
    text = str(reason)
    return ZeldaError(text.rsplit(marker, 1)[1]) if "Original Traceback" in text and marker in text else reason
