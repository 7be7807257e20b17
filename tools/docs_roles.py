"""A griffe extension for the API pages: the docstrings' reST roles (``:class:`Run```,
``:func:`~qsearch.run```) and double-backquoted literals shown as Markdown code, which
mkdocstrings renders, instead of as raw text."""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc):`~?([^`]+)`")
LITERAL = re.compile(r"``([^`]+)``")


class RestRoles(griffe.Extension):
    """Rewrite every docstring's roles and literals as Markdown inline code."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = LITERAL.sub(r"`\1`", ROLE.sub(r"`\1`", obj.docstring.value))
