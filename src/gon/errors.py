"""The library's one error type: anything a user can fix (bad data, bad config, bad checkpoint)."""


class GONError(Exception):
    """A problem with the user's input, reported as one clear line by the command line (exit code 2)."""
