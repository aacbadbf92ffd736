"""User-facing errors: one readable message that names the file or field and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """An error caused by the user's input or environment, shown without a traceback."""


class Interrupted(Exception):
    """The user stopped the work (Ctrl-C, SIGTERM); the message says what was kept and how to resume."""

    EXIT_CODE = 130  # the shell's code for a process ended by SIGINT


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of `choices` to a misspelt `word`, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
