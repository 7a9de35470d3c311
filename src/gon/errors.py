"""The library's one error type: anything a user can fix (bad data, bad config, bad checkpoint)."""


class GONError(Exception):
    """A problem with the user's input, reported as one clear line by the command line (exit code 2).

    The message is kept to one line even when it quotes user text with line breaks in it.
    """

    def __init__(self, message: object) -> None:
        super().__init__(" ".join(str(message).splitlines()))


class Diverged(GONError):
    """Training stopped on a non-finite loss: for a sweep (the map) a result, not a failure."""


class IndexKindError(GONError, TypeError):
    """A data set indexed by something that is not an int, a slice or ints (1.5, None, a
    string): one line, and still the TypeError Python's own sequences raise."""


class OutputError(GONError):
    """A file or folder could not be written (a full disk, a read-only folder): the output
    is left as it was. Separate from bad input because trying again can succeed."""


class NoSplit(GONError):
    """The data set has no such split (a folder without test images): the one failure to load
    a test split that is not an error, since a data set without one trains all the same."""


def os_error_message(error: OSError) -> str:
    """One line for an operating-system error (EROFS, ENOSPC, EACCES, EISDIR, ENOTDIR, ...):
    what the system said, and the file it said it about."""
    reason = error.strerror or str(error) or type(error).__name__
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason
