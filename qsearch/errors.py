"""The one exception type users see: a single line naming the file or value at fault."""


class QSearchError(Exception):
    """A user-facing error; the CLI prints its message on one line instead of a traceback."""
