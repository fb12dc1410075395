"""Generate the exercise notebooks from the solution notebooks.

``solutions/NN_stem.ipynb`` is the single source of a lesson's exercises.
This script writes ``exercises/NN_stem.ipynb`` from it: each answer is
replaced by a stub, outputs are stripped, answer and check cells are
tagged ``raises-exception`` so that "Run All" goes on past a stub and shows
every check's verdict, and check cells are folded. Never edit an exercise
notebook by hand::

    python3 scripts/make_exercises.py             # write every exercise
    python3 scripts/make_exercises.py 01_text     # write one
    python3 scripts/make_exercises.py --check     # exit 1 if any is stale

How a solution notebook marks its exercises:

* An **answer cell** is a code cell with ``"exercise": "<short_name>"`` in its
  metadata, a ``# ✎ Exercise N`` comment (N counts the answer cells from 1:
  it is the number ``hint(N)`` and ``solution(N)`` take) and exactly one
  block between ``### BEGIN SOLUTION`` and ``### END SOLUTION``. The block
  opens with one ``# TASK: <what to write, not how>`` line and two or more
  ``# HINT: <hint>`` lines, from general to specific (a comment line
  indented by two spaces or more, ``#   ...``, continues the line above);
  the answer follows. The block becomes::

      # YOUR CODE HERE
      raise NotImplementedError("<the task>")

  indented like the ``### BEGIN SOLUTION`` line. The hints and the answer
  stay in the solution notebook, where ``server.hints`` reads them when a
  learner asks (``hint(N)``, ``solution(N)``).
* A **check cell** is a code cell with ``"checks": "<short_name>"`` in its
  metadata, after the answer cell it checks, that passes ``exercise=N`` to
  ``checking()`` so that a failure says "stuck? hint(N)". Every exercise
  has at least one. In the exercise it is read-only and folded
  (``"jupyter": {"source_hidden": true}``): a click shows its code.
* A cell tagged ``solution-only`` is left out of the exercise.

Anything else (no solution block at all, an unterminated block, no task or
fewer than two hints, a block in a cell without an exercise name, two blocks
in one cell, an exercise numbered out of order...) raises
:class:`SolutionError` with the notebook, the cell and what to change.

The output is deterministic: the same solution gives a byte-identical
exercise (cell ids kept, JSON as ``nbformat.write`` lays it out, a trailing
newline).

Tests import this file by path (``importlib``) and use :func:`make_exercise`,
:func:`solutions` and :func:`fill` to run every exercise with its solution
and with wrong answers.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from server.hints import BEGIN, END, BlockError, find_block, read_block

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

STUB = "# YOUR CODE HERE"
RAISES = "raises-exception"
SOLUTION_ONLY = "solution-only"

#: Cell metadata an exercise keeps; the rest (execution timestamps, scroll
#: state, editor leftovers) stays in the solution.
CELL_METADATA = ("exercise", "checks", "tags", "editable", "deletable")

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_NUMBER_RE = re.compile(r"#\s*✎\s*Exercise\s+(\d+)\b")
_CHECK_NUMBER_RE = re.compile(r"\bexercise\s*=\s*(\d+)\b")
_STUB_RAISE_RE = re.compile(r"^raise NotImplementedError\((.*\))?$")


class SolutionError(ValueError):
    """A solution notebook does not follow the conventions; the message says how."""


@dataclass
class Exercise:
    """One exercise of a solution notebook."""

    name: str
    number: int  # its number in the notebook: 1 for the first answer cell
    cell: int  # index of the answer cell
    indent: str  # indentation of the solution block
    task: str  # what to write: the stub's message
    hints: tuple[str, ...]  # from general to specific
    solution: str  # the answer, unindented, without the TASK and HINT lines
    checks: list[int] = field(default_factory=list)  # indices of its check cells


# -- reading a solution notebook ------------------------------------------


def _where(origin: str, index: int, cell: NotebookNode) -> str:
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    if len(first) > 50:
        first = first[:47] + "..."
    return f"{origin}: cell {index} ({first!r})" if origin else f"cell {index} ({first!r})"


def _split_block(lines: list[str], where: str) -> tuple[int, int] | None:
    """Find the one solution block in a cell: the indices of its marker lines."""
    try:
        return find_block(lines)
    except BlockError as exc:
        raise SolutionError(f"{where}: {exc}") from None


def parse(notebook: NotebookNode, origin: str = "") -> dict[str, Exercise]:
    """Read the exercises of a solution notebook, checking its conventions.

    ``origin`` (a file name) only makes error messages clearer.
    """
    exercises: dict[str, Exercise] = {}
    for index, cell in enumerate(notebook.cells):
        where = _where(origin, index, cell)
        if "id" not in cell:
            raise SolutionError(f"{where}: no cell id; save the notebook as nbformat 4.5")
        lines = cell.source.splitlines()
        name = cell.metadata.get("exercise")
        checks = cell.metadata.get("checks")
        if cell.cell_type != "code":
            if any(BEGIN in line or END in line for line in lines):
                raise SolutionError(f"{where}: solution blocks belong in code cells, not {cell.cell_type} cells")
            if name is not None or checks is not None:
                raise SolutionError(f"{where}: only code cells can be answer or check cells")
            continue
        block = _split_block(lines, where)
        if name is not None and checks is not None:
            raise SolutionError(f"{where}: a cell is an answer cell or a check cell, not both")
        if block is None:
            if name is not None:
                raise SolutionError(f"{where}: has \"exercise\": {name!r} in its metadata but no solution block")
        else:
            if name is None:
                raise SolutionError(
                    f"{where}: has a solution block but no \"exercise\" name in its metadata; "
                    'add {"exercise": "<short_name>"}'
                )
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise SolutionError(f"{where}: the exercise name {name!r} must be snake_case")
            if name in exercises:
                raise SolutionError(f"{where}: exercise {name!r} already has an answer cell (cell {exercises[name].cell})")
            if SOLUTION_ONLY in cell.metadata.get("tags", []):
                raise SolutionError(f"{where}: an answer cell cannot be tagged {SOLUTION_ONLY!r}")
            try:
                read = read_block(lines, *block)
            except BlockError as exc:
                raise SolutionError(f"{where}: {exc}") from None
            number = len(exercises) + 1
            numbers = _NUMBER_RE.findall(cell.source)
            if numbers != [str(number)]:
                raise SolutionError(
                    f"{where}: the answer cell of exercise {number} ({name!r}) should hold the comment "
                    f"'# ✎ Exercise {number}' once (found {', '.join(numbers) or 'none'}): "
                    "hint(N) and solution(N) count the answer cells"
                )
            exercises[name] = Exercise(name, number, index, read.indent, read.task, read.hints, read.answer)
        if checks is not None:
            if checks not in exercises:
                raise SolutionError(
                    f"{where}: checks {checks!r}, but no answer cell before it has \"exercise\": {checks!r}"
                )
            if SOLUTION_ONLY in cell.metadata.get("tags", []):
                raise SolutionError(f"{where}: a check cell cannot be tagged {SOLUTION_ONLY!r}")
            number = exercises[checks].number
            if _CHECK_NUMBER_RE.findall(cell.source) != [str(number)]:
                raise SolutionError(
                    f"{where}: a check of exercise {number} ({checks!r}) passes exercise={number} to checking(), "
                    f"once, so that a failure says 'stuck? hint({number})'"
                )
            exercises[checks].checks.append(index)
    if not exercises:
        raise SolutionError(f"{origin or 'the notebook'}: no solution blocks ('{BEGIN}' ... '{END}') found")
    for exercise in exercises.values():
        if not exercise.checks:
            raise SolutionError(
                f"{origin or 'the notebook'}: exercise {exercise.name!r} has no check cell; "
                f'add a code cell with {{"checks": "{exercise.name}"}} in its metadata after it'
            )
    return exercises


def solutions(notebook: NotebookNode, origin: str = "") -> dict[str, str]:
    """The answers of a solution notebook by exercise name, unindented."""
    return {name: exercise.solution for name, exercise in parse(notebook, origin).items()}


# -- writing the exercise ---------------------------------------------------


def _literal(text: str) -> str:
    """A Python string literal for text: double quotes, unless single ones spare escapes."""
    if '"' in text and "'" not in text:
        return repr(text)
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid Python string


#: Stub lines longer than this are wrapped, so a task reads whole in JupyterLab.
MAX_LINE = 88


def _stub(indent: str, task: str) -> list[str]:
    one_line = f"{indent}raise NotImplementedError({_literal(task)})"
    if len(one_line) <= MAX_LINE:
        return [indent + STUB, one_line]
    # Split the task into adjacent string literals, each word keeping the
    # spaces after it, so that Python joins them back into the same text.
    width = max(MAX_LINE - len(indent) - 6, 20)
    pieces = [""]
    for token in re.findall(r"\S+\s*|\s+", task):
        if pieces[-1] and len(pieces[-1]) + len(token) > width:
            pieces.append("")
        pieces[-1] += token
    return [
        indent + STUB,
        f"{indent}raise NotImplementedError(",
        *(f"{indent}    {_literal(piece)}" for piece in pieces),
        f"{indent})",
    ]


def _tagged(metadata: NotebookNode, tag: str) -> None:
    tags = list(metadata.get("tags", []))
    if tag not in tags:
        tags.append(tag)
    metadata["tags"] = tags


def _clean_metadata(metadata: Mapping) -> NotebookNode:
    return NotebookNode({key: copy.deepcopy(metadata[key]) for key in CELL_METADATA if key in metadata})


def make_exercise(solution: NotebookNode, origin: str = "") -> NotebookNode:
    """Build the exercise notebook for a solution notebook (a new object)."""
    exercises = parse(solution, origin)
    answer_cells = {exercise.cell: exercise for exercise in exercises.values()}
    check_cells = {index for exercise in exercises.values() for index in exercise.checks}
    cells = []
    for index, cell in enumerate(solution.cells):
        if SOLUTION_ONLY in cell.metadata.get("tags", []):
            continue
        new = NotebookNode(
            {
                "cell_type": cell.cell_type,
                "id": cell.id,
                "metadata": _clean_metadata(cell.metadata),
                "source": cell.source,
            }
        )
        if cell.cell_type == "code":
            new.outputs = []
            new.execution_count = None
        elif "attachments" in cell:
            new.attachments = copy.deepcopy(cell.attachments)
        if index in answer_cells:
            exercise = answer_cells[index]
            lines = cell.source.splitlines()
            begin, end = _split_block(lines, "")
            new.source = "\n".join(lines[:begin] + _stub(exercise.indent, exercise.task) + lines[end + 1 :])
            _tagged(new.metadata, RAISES)
        elif index in check_cells:
            _tagged(new.metadata, RAISES)
            # Checks are the course's, not the learner's: JupyterLab keeps them
            # read-only, and folded, so the page reads as the exercises.
            new.metadata["editable"] = False
            new.metadata["deletable"] = False
            new.metadata["jupyter"] = NotebookNode({"source_hidden": True})
        cells.append(new)
    metadata = NotebookNode()
    if "kernelspec" in solution.metadata:
        metadata.kernelspec = copy.deepcopy(solution.metadata.kernelspec)
    # The kernel fills in versions when it runs; keep only the language.
    # The whole of language_info, as the kernel reports it: with less,
    # JupyterLab fills it in on opening and marks the untouched notebook changed.
    metadata.language_info = copy.deepcopy(solution.metadata.get("language_info", NotebookNode({"name": "python"})))
    exercise = NotebookNode({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5})
    nbformat.validate(exercise)
    return exercise


def fill(notebook: NotebookNode, answers: Mapping[str, str]) -> NotebookNode:
    """Put answers in place of an exercise notebook's stubs (a new notebook).

    ``answers`` maps exercise names to code written unindented; each is
    indented like the stub it replaces. The answer and check cells of the
    filled exercises lose their ``raises-exception`` tag, so an error in
    them is an error again. Exercises not in ``answers`` keep their stubs.
    """
    notebook = copy.deepcopy(notebook)
    names = {cell.metadata.get("exercise"): i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    unknown = sorted(set(answers) - set(names))
    if unknown:
        raise SolutionError(f"no answer cell for exercise(s) {', '.join(map(repr, unknown))}")
    for name, answer in answers.items():
        cell = notebook.cells[names[name]]
        lines = cell.source.splitlines()
        for i in range(len(lines) - 1):
            if lines[i].strip() == STUB and _STUB_RAISE_RE.match(lines[i + 1].strip()):
                indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                end = i + 2
                if lines[i + 1].rstrip().endswith("NotImplementedError("):  # a wrapped task
                    end = next(j for j in range(i + 2, len(lines)) if lines[j] == indent + ")") + 1
                break
        else:
            raise SolutionError(f"exercise {name!r}: its answer cell has no '{STUB}' stub to fill")
        body = [indent + line if line.strip() else "" for line in _dedent(answer).splitlines()]
        cell.source = "\n".join(lines[:i] + body + lines[end:])
    filled = set(answers)
    for cell in notebook.cells:
        if cell.metadata.get("exercise") in filled or cell.metadata.get("checks") in filled:
            tags = [tag for tag in cell.metadata.get("tags", []) if tag != RAISES]
            if tags:
                cell.metadata.tags = tags
            else:
                cell.metadata.pop("tags", None)
    return notebook


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def dumps(notebook: NotebookNode) -> str:
    """The notebook's file content, as ``nbformat.write`` lays it out."""
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def generate(solution_path: Path) -> str:
    """The exercise file content for one solution notebook."""
    solution = nbformat.read(solution_path, as_version=nbformat.NO_CONVERT)
    origin = _display(solution_path)
    if solution.nbformat != 4 or solution.nbformat_minor < 5:
        raise SolutionError(f"{origin}: save it as nbformat 4.5 (it is {solution.nbformat}.{solution.nbformat_minor})")
    return dumps(make_exercise(solution, origin))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# -- command line -------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or, with ``--check``, compare) the exercise notebooks."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("stems", nargs="*", help="lessons to generate, such as 01_text (default: all)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 and list stale exercises")
    args = parser.parse_args(argv)

    sources = sorted(SOLUTIONS.glob("*.ipynb"))
    if args.stems:
        wanted = {Path(stem).stem for stem in args.stems}
        missing = wanted - {path.stem for path in sources}
        if missing:
            parser.error(f"no solutions/<stem>.ipynb for: {', '.join(sorted(missing))}")
        sources = [path for path in sources if path.stem in wanted]

    problems: list[str] = []
    for source in sources:
        target = EXERCISES / source.name
        try:
            text = generate(source)
        except SolutionError as exc:
            problems.append(f"{exc}")
            continue
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        if args.check:
            problems.append(f"{_display(target)} is {'missing' if current is None else 'out of date'}")
        else:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {_display(target)}")
    if not args.stems:
        for orphan in sorted(EXERCISES.glob("*.ipynb")):
            if not (SOLUTIONS / orphan.name).exists():
                problems.append(f"{_display(orphan)} has no solutions/{orphan.name}; delete it")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and args.check:
        print("run: python3 scripts/make_exercises.py", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
