"""server.hints: stepwise hints and worked answers, read from the solution notebooks."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from test_exercises import EXERCISES, SOLUTIONS, STEMS, make_exercises, solution

from server import hints
from server.hints import HintError, Hints, for_lesson, read_exercises


def lesson(stem: str) -> list[hints.Exercise]:
    return read_exercises(SOLUTIONS / f"{stem}.ipynb")


def blocks_as_written(stem: str) -> dict[str, str]:
    """Each answer as the solution notebook has it, read without server.hints: between the markers, past TASK and HINT."""
    answers = {}
    for cell in solution(stem).cells:
        if "exercise" not in cell.metadata:
            continue
        lines = cell.source.splitlines()
        begin = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION")
        end = next(i for i, line in enumerate(lines) if line.strip() == "### END SOLUTION")
        body = lines[begin + 1 : end]
        while body and re.match(r"\s*#( TASK:| HINT:|\s{2,}\S)", body[0]):
            body.pop(0)
        answers[cell.metadata.exercise] = textwrap.dedent("\n".join(body)).strip("\n")
    return answers


def code_lines(answer: str, shortest: int) -> list[str]:
    """The answer's lines without their comments, stripped, at least `shortest` characters long."""
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in answer.splitlines())
    return [line for line in lines if len(line) >= shortest and not line.startswith("#")]


# -- the lessons --------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_has_a_task_and_at_least_two_hints(stem: str) -> None:
    """Each exercise of a lesson has a task statement and two or more hints."""
    exercises = lesson(stem)
    assert exercises, f"solutions/{stem}.ipynb has no exercises"
    for exercise in exercises:
        assert exercise.task.strip(), f"exercise {exercise.number} of {stem} has no task"
        assert len(exercise.hints) >= 2 and all(h.strip() for h in exercise.hints), (
            f"exercise {exercise.number} of {stem} should have at least two hints, has {exercise.hints}"
        )
        assert len(set(exercise.hints)) == len(exercise.hints), f"exercise {exercise.number} of {stem} repeats a hint"


@pytest.mark.parametrize("stem", STEMS)
def test_exercises_are_numbered_as_the_notebooks_number_them(stem: str) -> None:
    """Exercise N is the Nth answer cell, marked "✎ Exercise N" in solution and exercise; its check says hint(N)."""
    names = [exercise.name for exercise in lesson(stem)]
    assert names == list(make_exercises.parse(solution(stem))), "server.hints and make_exercises.py count differently"
    for folder in (SOLUTIONS, EXERCISES):
        notebook = nbformat.read(folder / f"{stem}.ipynb", as_version=4)
        answers = [cell for cell in notebook.cells if "exercise" in cell.metadata]
        assert [cell.metadata.exercise for cell in answers] == names
        for number, cell in enumerate(answers, start=1):
            where = f"{folder.name}/{stem}.ipynb, {cell.metadata.exercise}"
            assert re.findall(r"✎ Exercise (\d+)", cell.source) == [str(number)], where
        for cell in notebook.cells:
            if "checks" in cell.metadata:
                number = names.index(cell.metadata.checks) + 1
                where = f"{folder.name}/{stem}.ipynb, check of {cell.metadata.checks}"
                assert re.findall(r"\bexercise=(\d+)", cell.source) == [str(number)], where


@pytest.mark.parametrize("stem", STEMS)
def test_no_stub_holds_a_hint_or_a_line_of_the_answer(stem: str) -> None:
    """The exercise notebook holds no hint anywhere, and its stubs hold no line of the answer; no hint is a line of the answer."""
    exercise_notebook = nbformat.read(EXERCISES / f"{stem}.ipynb", as_version=4)
    everything = "\n".join(cell.source for cell in exercise_notebook.cells)
    solution_cells = {cell.metadata.exercise: cell.source for cell in solution(stem).cells if "exercise" in cell.metadata}
    for exercise in lesson(stem):
        for hint in exercise.hints:
            assert hint not in everything, f"exercises/{stem}.ipynb shows a hint of exercise {exercise.number}: {hint!r}"
            for line in code_lines(exercise.answer, shortest=15):
                assert line not in hint, f"a hint of exercise {exercise.number} of {stem} is the code {line!r}: {hint!r}"
        answer_cell = next(c for c in exercise_notebook.cells if c.metadata.get("exercise") == exercise.name)
        kept = set(solution_cells[exercise.name].splitlines())
        stub = "\n".join(line for line in answer_cell.source.splitlines() if line not in kept)
        assert "raise NotImplementedError" in stub
        for line in code_lines(exercise.answer, shortest=8):
            assert line not in stub, f"the stub of exercise {exercise.number} of {stem} holds the answer's line {line!r}"


@pytest.mark.parametrize("stem", STEMS)
def test_solution_shows_exactly_the_solution_notebooks_block(stem: str, monkeypatch, capsys) -> None:
    """solution(n) displays, syntax-highlighted, the block of the nth answer cell as solutions/ has it."""
    shown = []
    monkeypatch.setattr(hints, "display", shown.append)
    hint, show_solution = for_lesson(stem)
    written = blocks_as_written(stem)
    for exercise in lesson(stem):
        shown.clear()
        show_solution(exercise.number)
        assert len(shown) == 1 and isinstance(shown[0], hints.Code)
        assert shown[0].data == written[exercise.name], f"solution({exercise.number}) of {stem} is not the notebook's block"
        assert f"exercise {exercise.number} ({exercise.name}), from solutions/{stem}.ipynb" in capsys.readouterr().out
    # Filled with what solution(n) shows, each answer cell is the solution's, markers and hints aside.
    shipped = nbformat.read(EXERCISES / f"{stem}.ipynb", as_version=4)
    filled = make_exercises.fill(shipped, written)
    for cell, original in zip(filled.cells, solution(stem).cells):
        if "exercise" in cell.metadata:
            lines = original.source.splitlines()
            begin = next(i for i, line in enumerate(lines) if "### BEGIN SOLUTION" in line)
            header = len(lines[begin + 1 :]) - len(written[cell.metadata.exercise].splitlines()) - 1  # TASK and HINT lines
            expected = lines[:begin] + lines[begin + 1 + header :]
            expected = [line for line in expected if "### END SOLUTION" not in line]
            assert cell.source.splitlines() == expected


@pytest.mark.parametrize("stem", STEMS)
def test_hint_steps_from_general_to_specific_then_says_it_is_done(stem: str, capsys) -> None:
    """hint(n) prints the hints of exercise n in order, says at the last that it is the last, then that none are left."""
    hint, _ = for_lesson(stem)
    for exercise in lesson(stem):
        n, total = exercise.number, len(exercise.hints)
        for k, text in enumerate(exercise.hints, start=1):
            hint(n)
            out = capsys.readouterr().out
            assert out.startswith(f"Hint {k} of {total} for exercise {n}: {text}\n")
            assert ("That was the last hint" in out) == (k == total)
            if k == total:
                assert f"solution({n}) shows the worked answer" in out
        hint(n)
        out = capsys.readouterr().out
        assert out.startswith(f"No more hints for exercise {n}") and f"solution({n})" in out


def test_hint_with_a_number_shows_that_hint_and_the_next_call_goes_on_from_it(capsys) -> None:
    """hint(n, k) prints hint k; the next hint(n) prints k + 1, and reading an earlier one again does not step back."""
    hint, _ = for_lesson("01_text")
    first = lesson("01_text")[0]
    hint(1, 2)
    assert capsys.readouterr().out.startswith(f"Hint 2 of {len(first.hints)} for exercise 1: {first.hints[1]}")
    hint(1, 1)
    assert capsys.readouterr().out.startswith(f"Hint 1 of {len(first.hints)} for exercise 1: {first.hints[0]}")
    hint(1)
    assert capsys.readouterr().out.startswith(f"Hint 3 of {len(first.hints)} for exercise 1: {first.hints[2]}")
    hint(2)
    assert capsys.readouterr().out.startswith("Hint 1 of"), "each exercise counts its own hints"


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda hint, solution: hint(0), "lesson 01_text has exercises 1 to 5; there is no exercise 0"),
        (lambda hint, solution: hint(6), "there is no exercise 6"),
        (lambda hint, solution: hint("1"), "there is no exercise '1'"),
        (lambda hint, solution: hint(1, 9), "exercise 1 has hints 1 to 3; there is no hint 9"),
        (lambda hint, solution: solution(7), "there is no exercise 7"),
    ],
)
def test_a_wrong_number_says_which_numbers_there_are(call, said: str) -> None:
    """An exercise or hint number that does not exist raises HintError, shown as one line naming the ones that do."""
    hint, show_solution = for_lesson("01_text")
    with pytest.raises(HintError) as raised:
        call(hint, show_solution)
    assert said in str(raised.value)
    assert raised.value._render_traceback_() == [str(raised.value)]


def test_hint_without_a_number_lists_the_exercises(capsys) -> None:
    """hint() says how to use it and lists the lesson's exercises by number."""
    hint, _ = for_lesson("04_timeout")
    hint()
    out = capsys.readouterr().out
    assert out.startswith("hint(N) gives a hint for exercise N (1 answer_heartbeats, 2 wait_for_close, 3 next_event")
    assert "solution(N)" in out


def test_an_unknown_lesson_is_refused_at_once() -> None:
    """for_lesson() with a stem that has no solution notebook raises HintError naming it."""
    with pytest.raises(HintError, match="no solutions/99_nothing.ipynb"):
        for_lesson("99_nothing")


def test_hints_are_read_from_the_notebook_at_each_call(tmp_path: Path, capsys) -> None:
    """An edited solution notebook shows its new hints at the next call, with no restart."""
    cell = new_code_cell(
        "# ✎ Exercise 1\n### BEGIN SOLUTION\n# TASK: t\n# HINT: first\n# HINT: second\nx = 1\n### END SOLUTION",
        metadata={"exercise": "one"},
    )
    notebook = new_notebook(cells=[cell])
    nbformat.write(notebook, tmp_path / "99_tiny.ipynb")
    lesson_hints = Hints("99_tiny", solutions=tmp_path)
    lesson_hints.hint(1)
    assert "first" in capsys.readouterr().out
    cell.source = cell.source.replace("# HINT: second", "# HINT: second, edited")
    nbformat.write(notebook, tmp_path / "99_tiny.ipynb")
    lesson_hints.hint(1)
    assert "second, edited" in capsys.readouterr().out


@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_notebook_gets_hint_and_solution_for_its_own_lesson(stem: str) -> None:
    """The set-up cell of exercises/<stem>.ipynb defines hint and solution with for_lesson("<stem>")."""
    notebook = nbformat.read(EXERCISES / f"{stem}.ipynb", as_version=4)
    setup = "\n".join(
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code" and "exercise" not in cell.metadata and "checks" not in cell.metadata
    )
    assert "from server.hints import for_lesson" in setup
    assert f'hint, solution = for_lesson("{stem}")' in setup


def test_hint_and_solution_work_in_a_kernel_started_in_exercises() -> None:
    """In a notebook kernel, hint(1) prints the first hint and solution(1) displays the answer as code and HTML."""
    first = lesson("01_text")[0]
    notebook = new_notebook(
        cells=[
            new_code_cell('from server.hints import for_lesson\n\nhint, solution = for_lesson("01_text")'),
            new_code_cell("hint(1)"),
            new_code_cell("solution(1)"),
        ]
    )
    NotebookClient(notebook, timeout=20, kernel_name="python3", resources={"metadata": {"path": str(EXERCISES)}}).execute()
    printed = "".join(o.text for o in notebook.cells[1].outputs if o.output_type == "stream")
    assert printed.startswith(f"Hint 1 of {len(first.hints)} for exercise 1: {first.hints[0]}")
    shown = [o for o in notebook.cells[2].outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and shown[0].data["text/plain"] == first.answer
    assert "<pre" in shown[0].data["text/html"]
