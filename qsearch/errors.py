"""The one exception type users see: a single line naming the file or value at fault."""

from __future__ import annotations

import re

_FIELD = re.compile(r"\{([a-z_]+)\}")


class QSearchError(Exception):
    """A user-facing error; the CLI prints its message on one line instead of a traceback.

    An error about a parameter is written as a template whose ``{name}`` fields are parameter
    names (:meth:`about`): a library caller reads ``floor``, the command line reads ``--floor``
    (:meth:`spoken`), so each is told the name it typed."""

    def __init__(self, message: str, template: str | None = None):
        super().__init__(message)
        self.template = template

    @classmethod
    def about(cls, template: str) -> QSearchError:
        """An error whose ``{name}`` fields name parameters (in the message: the bare names)."""
        return cls(_FIELD.sub(lambda m: m.group(1), template), template)

    def spoken(self, names: dict[str, str]) -> str:
        """The message with each parameter called by ``names`` (e.g. its command-line flag)."""
        if self.template is None:
            return str(self)
        return _FIELD.sub(lambda m: names.get(m.group(1), m.group(1)), self.template)


def one_line(error: Exception, limit: int = 400) -> str:
    """An error's whole message on one line (a library's second line often says what it
    expected), up to ``limit`` characters, never cut mid-word."""
    line = " ".join(str(error).split()) or type(error).__name__
    return line if len(line) <= limit else line[:limit].rsplit(" ", 1)[0] + " ..."
