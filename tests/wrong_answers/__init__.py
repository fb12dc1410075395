"""Plausible wrong answers to the exercises: one module per lesson stem.

Each module holds ``WRONG_ANSWERS``, mapping every exercise's short name to
a list of :class:`Wrong`: code that replaces the solution block (written
unindented; the test indents it) and the words the check's ``✗`` line must
contain, because they name the mistake. A comment above each one says
which mistake it models. A check with several branches (an ``expect`` or
an ``except`` that names a different mistake) gets a wrong answer for each.

tests/test_exercises.py fills the exercises with their first wrong answers,
then their second ones, and so on (the rounds one after another in one
kernel), and requires that:

* the answer cell runs without an error: only the check may fail;
* every check cell of the exercise fails with one CheckFailed whose line
  holds each of ``says``, none of ``never``, and "stuck? hint(N)";
* no check prints ✓, and no other cell fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Wrong:
    """A plausible wrong answer, and what its check must say about it."""

    code: str
    #: Words the check's ✗ line must contain: they name the mistake.
    says: Sequence[str]
    #: Words it must not contain, such as the right answers of a quiz.
    never: Sequence[str] = ()
