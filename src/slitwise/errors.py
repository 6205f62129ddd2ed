"""Exceptions raised by slitwise.

Every error caused by what a user gave us (a file, an HDU, a column, a parameter) is a
:class:`SlitwiseInputError`. Its message is one line that names the offending item and what
was expected; the command line prints that line and exits with status 2.
"""

from __future__ import annotations

__all__ = ["SlitwiseInputError", "input_error"]


class SlitwiseInputError(ValueError):
    """Bad user input: a file, HDU, column, unit or parameter that is not what was expected."""


def input_error(where: object, problem: str) -> SlitwiseInputError:
    """Build a :class:`SlitwiseInputError` whose message is ``"<where>: <problem>"``.

    Parameters
    ----------
    where : object
        The file (and HDU/column) or parameter at fault; converted with ``str``.
    problem : str
        What was wrong and what was expected.
    """
    return SlitwiseInputError(f"{where}: {problem}")
