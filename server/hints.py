"""Hints on demand for the exercise notebooks, and the worked answers.

Each exercise notebook's set-up cell gets the two functions for its lesson::

    from server.hints import for_lesson

    hint, solution = for_lesson("03_json")

Then, in any cell, with the exercise's number as the notebook gives it
("✎ Exercise 3"):

* ``hint(3)`` prints the next hint for exercise 3: the first, then at each
  call the next one, from general to specific; after the last it says so
  and how to see the worked answer;
* ``hint(3, 2)`` prints hint 2 of exercise 3;
* ``solution(3)`` shows the worked answer, syntax-highlighted.

Hints and answers are read from ``solutions/<stem>.ipynb`` at each call, so
they are always those of the solution notebook. An exercise is numbered by
the order of the answer cells (those with ``"exercise"`` in their metadata).
In an answer cell the block between the markers reads::

    ### BEGIN SOLUTION
    # TASK: what to write, not how (the exercise's stub raises it)
    # HINT: a first, general hint
    # HINT: a more specific one, and as many more as it takes
    #   a comment line indented by two spaces or more continues the line above
    ...the answer...
    ### END SOLUTION

:func:`find_block` and :func:`read_block` read that block, for this module
and for ``scripts/make_exercises.py`` alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from IPython.display import Code, display

#: ``solutions/`` of the course: the package is installed from the repository (pip install -e .).
SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
TASK = "# TASK:"
HINT = "# HINT:"
#: Hints every exercise has at least.
MIN_HINTS = 2

_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
_END_RE = re.compile(r"^(?P<indent>[ \t]*)### END SOLUTION[ \t]*$")
_CONTINUED_RE = re.compile(r"^#[ \t]{2,}(?P<text>\S.*)$")


class BlockError(ValueError):
    """A solution block that does not follow the conventions; the message says how."""


class HintError(LookupError):
    """No such exercise or hint; shown in a notebook as one line, without a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


@dataclass(frozen=True)
class Block:
    """The solution block of an answer cell."""

    indent: str  # indentation of the block's markers
    task: str
    hints: tuple[str, ...]
    answer: str  # unindented, without the TASK and HINT lines


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson, as the learner numbers it."""

    number: int
    name: str
    task: str
    hints: tuple[str, ...]
    answer: str


# -- reading a solution block ---------------------------------------------------


def find_block(lines: list[str]) -> tuple[int, int] | None:
    """The indices of the marker lines of a cell's one solution block, or None."""
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines):
        if _BEGIN_RE.match(line):
            if start is not None:
                raise BlockError(f"'{BEGIN}' on line {i + 1} inside another block (line {start + 1})")
            start = i
        elif _END_RE.match(line):
            if start is None:
                raise BlockError(f"'{END}' on line {i + 1} without a '{BEGIN}' before it")
            blocks.append((start, i))
            start = None
        elif BEGIN in line or END in line:
            raise BlockError(f"line {i + 1} must hold the marker alone: {line.strip()!r}")
    if start is not None:
        raise BlockError(f"the block opened on line {start + 1} is never closed with '{END}'")
    if len(blocks) > 1:
        raise BlockError(f"{len(blocks)} solution blocks in one cell; put one block in each answer cell")
    return blocks[0] if blocks else None


def read_block(lines: list[str], begin: int, end: int) -> Block:
    """Read the block between the marker lines ``begin`` and ``end``: its task, hints and answer."""
    indent = _BEGIN_RE.match(lines[begin])["indent"]
    if _END_RE.match(lines[end])["indent"] != indent:
        raise BlockError(f"'{END}' (line {end + 1}) must be indented like '{BEGIN}' (line {begin + 1})")
    body: list[tuple[int, str]] = []  # (line number, line without the block's indentation)
    for number, line in enumerate(lines[begin + 1 : end], start=begin + 2):
        if not line.strip():
            body.append((number, ""))
        elif line.startswith(indent):
            body.append((number, line[len(indent) :].rstrip()))
        else:
            raise BlockError(f"line {number} is indented less than '{BEGIN}'")

    task: str | None = None
    hints: list[str] = []
    first = 0  # index in body of the answer's first line
    for number, line in body:
        if line.startswith(TASK):
            if task is not None or hints:
                raise BlockError(f"line {number}: one '{TASK}' line, right after '{BEGIN}' and before the hints")
            task = line[len(TASK) :].strip()
        elif line.startswith(HINT):
            if task is None:
                raise BlockError(f"line {number}: the '{TASK}' line comes first, then the '{HINT}' lines")
            hints.append(line[len(HINT) :].strip())
        elif (continued := _CONTINUED_RE.match(line)) and task is not None:
            if hints:
                hints[-1] = f"{hints[-1]} {continued['text'].strip()}"
            else:
                task = f"{task} {continued['text'].strip()}"
        else:
            break
        first += 1
    if task is None:
        raise BlockError(f"the block must open with a '{TASK} <what to write>' line (line {begin + 2})")
    if not task or not all(hints):
        raise BlockError(f"an empty '{TASK}' or '{HINT}' line in the block opened on line {begin + 1}")
    if len(hints) < MIN_HINTS:
        raise BlockError(
            f"the block opened on line {begin + 1} has {len(hints)} '{HINT}' line(s); "
            f"give at least {MIN_HINTS}, from general to specific"
        )
    for number, line in body[first:]:
        if line.lstrip().startswith((TASK, HINT)):
            raise BlockError(f"line {number}: a '{line.lstrip()[:7]}' line inside the answer; put it right after '{BEGIN}'")
    answer = "\n".join(line for _, line in body[first:]).strip("\n")
    if not answer.strip():
        raise BlockError(f"the solution block opened on line {begin + 1} is empty")
    return Block(indent, task, tuple(hints), answer)


def read_exercises(path: Path) -> list[Exercise]:
    """The exercises of a solution notebook, numbered by the order of their answer cells."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    exercises = []
    for cell in notebook["cells"]:
        name = cell.get("metadata", {}).get("exercise")
        if cell["cell_type"] != "code" or name is None:
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        lines = source.splitlines()
        found = find_block(lines)
        if found is None:
            raise BlockError(f"{path.name}: the answer cell of {name!r} has no solution block")
        block = read_block(lines, *found)
        exercises.append(Exercise(len(exercises) + 1, name, block.task, block.hints, block.answer))
    return exercises


# -- in the notebook -------------------------------------------------------------


class Hints:
    """The hints and worked answers of one lesson, read from its solution notebook."""

    def __init__(self, stem: str, solutions: Path = SOLUTIONS) -> None:
        self.stem = stem
        self.path = solutions / f"{stem}.ipynb"
        self._seen: dict[int, int] = {}  # exercise number -> hints shown so far
        if not self.path.is_file():
            raise HintError(
                f"no solutions/{stem}.ipynb next to the server package ({self.path}): "
                "install the course from its repository (python3 course.py lab does)"
            )

    def exercise(self, number: int) -> Exercise:
        """Exercise ``number`` (1 for the first), read from the solution notebook now."""
        exercises = read_exercises(self.path)
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(exercises):
            raise HintError(f"lesson {self.stem} has exercises 1 to {len(exercises)}; there is no exercise {number!r}")
        return exercises[number - 1]

    def hint(self, exercise: int | None = None, number: int | None = None) -> None:
        """Print the next hint for an exercise, or hint ``number`` of it.

        ``hint(3)`` gives the first hint for exercise 3, then the second at
        the next call, and so on; ``hint(3, 2)`` gives the second again.
        ``hint()`` lists the lesson's exercises.
        """
        if exercise is None:
            listed = ", ".join(f"{e.number} {e.name}" for e in read_exercises(self.path))
            print(f"hint(N) gives a hint for exercise N ({listed}); solution(N) shows its worked answer.")
            return
        found = self.exercise(exercise)
        total = len(found.hints)
        if number is None:
            number = self._seen.get(exercise, 0) + 1
            if number > total:
                print(
                    f"No more hints for exercise {exercise}: you have seen all {total} "
                    f"(hint({exercise}, 1) shows the first again). solution({exercise}) shows the worked answer."
                )
                return
        elif isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= total:
            raise HintError(f"exercise {exercise} has hints 1 to {total}; there is no hint {number!r}")
        self._seen[exercise] = max(self._seen.get(exercise, 0), number)
        print(f"Hint {number} of {total} for exercise {exercise}: {found.hints[number - 1]}")
        if number == total:
            print(f"That was the last hint. solution({exercise}) shows the worked answer.")

    def solution(self, exercise: int) -> None:
        """Show the worked answer to an exercise, as solutions/<stem>.ipynb has it."""
        found = self.exercise(exercise)
        print(f"The worked answer to exercise {exercise} ({found.name}), from solutions/{self.stem}.ipynb:")
        display(Code(found.answer, language="python"))


def for_lesson(stem: str) -> tuple:
    """``hint`` and ``solution`` for the exercises of a lesson, such as ``for_lesson("03_json")``.

    Every exercise notebook's set-up cell calls it, so it is also where a
    workshop begins: with ``COURSE_WORKSHOP_URL`` and ``COURSE_WORKSHOP_NAME``
    set before JupyterLab started, the notebook joins the workshop and its
    checks show on the instructor's board (see :mod:`server.workshop_client`).
    Unset, nothing more happens and nothing is printed.
    """
    from server import workshop_client  # imported here: it imports server.checks

    workshop_client.join_from_environment()
    hints = Hints(stem)
    return hints.hint, hints.solution
