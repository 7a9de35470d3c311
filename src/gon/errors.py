"""The library's one error type: anything a user can fix (bad data, bad config, bad checkpoint)."""


class GONError(Exception):
    """A problem with the user's input, reported as one clear line by the command line (exit code 2).

    The message is kept to one line even when it quotes user text with line breaks in it.
    """

    def __init__(self, message: object) -> None:
        super().__init__(" ".join(str(message).splitlines()))


class Diverged(GONError):
    """Training stopped on a non-finite loss: for a sweep (the map) a result, not a failure."""
