"""The exercise notebooks: generated from the solutions, with honest checks.

For every lesson that has a ``solutions/<stem>.ipynb``:

* ``exercises/<stem>.ipynb`` is exactly what ``scripts/make_exercises.py``
  generates from it;
* every exercise has a plausible wrong answer in
  ``tests/wrong_answers/<stem>.py``;
* the exercise as shipped runs, and each check says what is not written yet;
  filled with the solutions, every check passes;
* filled with the wrong answers, every check fails with a hint, and no other
  cell fails.

Lessons added to ``solutions/`` are covered without touching this file. The
generator itself is tested on small notebooks built here.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
WRONG_ANSWERS = ROOT / "tests" / "wrong_answers"
STEMS = sorted(path.stem for path in SOLUTIONS.glob("*.ipynb"))

#: Seconds a notebook cell may run before the test fails.
CELL_TIMEOUT = 20

HEADER = "Restart the kernel, then run all cells"


def load_module(path: Path, name: str) -> ModuleType:
    """Import a Python file that is not on the import path (a script, a lesson's answers)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


make_exercises = load_module(ROOT / "scripts" / "make_exercises.py", "make_exercises")


def solution(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=nbformat.NO_CONVERT)


def wrong_answers(stem: str) -> dict[str, str]:
    path = WRONG_ANSWERS / f"{stem}.py"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: it holds WRONG_ANSWERS for the lesson's exercises"
    return load_module(path, f"wrong_answers_{stem}").WRONG_ANSWERS


def execute(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel started in exercises/, as a learner would.

    A cell that raises stops the run unless it is tagged raises-exception
    (the exercise's stubs and checks are).
    """
    notebook = copy.deepcopy(notebook)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(EXERCISES)}},
    )
    client.execute()
    return notebook


def errors(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


def stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stdout")


def role(cell: nbformat.NotebookNode) -> str:
    """ "answer", "check" or "other"."""
    if "exercise" in cell.metadata:
        return "answer"
    if "checks" in cell.metadata:
        return "check"
    return "other"


def describe(index: int, cell: nbformat.NotebookNode) -> str:
    name = cell.metadata.get("exercise") or cell.metadata.get("checks")
    first = cell.source.splitlines()[0] if cell.source else ""
    return f"cell {index}" + (f" ({role(cell)} of {name!r})" if name else f" ({first[:60]!r})")


# -- the lessons' notebooks ---------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_exercise_is_generated_from_its_solution(stem: str) -> None:
    """exercises/<stem>.ipynb is what make_exercises.py writes from the solution."""
    generated = make_exercises.generate(SOLUTIONS / f"{stem}.ipynb")
    path = EXERCISES / f"{stem}.ipynb"
    assert path.exists(), f"exercises/{stem}.ipynb is missing: run python3 scripts/make_exercises.py"
    assert path.read_text(encoding="utf-8") == generated, (
        f"exercises/{stem}.ipynb is out of date: run python3 scripts/make_exercises.py"
    )


def test_every_exercise_notebook_has_a_solution() -> None:
    """No exercise notebook is left over from a solution that is gone."""
    orphans = [path.name for path in EXERCISES.glob("*.ipynb") if not (SOLUTIONS / path.name).exists()]
    assert not orphans, f"exercises without solutions/<stem>.ipynb: {orphans}"


@pytest.mark.parametrize("stem", STEMS)
def test_solution_starts_with_the_header_and_is_stored_run(stem: str) -> None:
    """A solution opens with the restart-and-run-all header and holds the outputs of a run."""
    notebook = solution(stem)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and HEADER in first.source, (
        f"solutions/{stem}.ipynb should open with a markdown cell saying {HEADER!r} ..."
    )
    unrun = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and cell.execution_count is None]
    assert not unrun, f"solutions/{stem}.ipynb is stored with outputs; cells {unrun} were not run"


@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_has_a_wrong_answer(stem: str) -> None:
    """tests/wrong_answers/<stem>.py has one wrong answer per exercise, none equal to the solution."""
    answers = make_exercises.solutions(solution(stem), f"solutions/{stem}.ipynb")
    wrong = wrong_answers(stem)
    assert set(wrong) == set(answers), (
        f"WRONG_ANSWERS in tests/wrong_answers/{stem}.py should have exactly the exercises "
        f"{sorted(answers)}; missing {sorted(set(answers) - set(wrong))}, unknown {sorted(set(wrong) - set(answers))}"
    )
    for name, code in wrong.items():
        assert code.strip() and make_exercises._dedent(code) != answers[name], f"the wrong answer to {name!r} is the solution"


@pytest.mark.parametrize("stem", STEMS)
def test_shipped_exercise_says_what_to_write_then_passes_with_the_solutions(stem: str) -> None:
    """Run as shipped, each check says "not written yet"; filled with the solutions, each passes.

    Both runs share one kernel, one after the other, as when a learner runs
    the notebook, writes the answers and runs it again.
    """
    source = solution(stem)
    exercises = make_exercises.parse(source, f"solutions/{stem}.ipynb")
    shipped = make_exercises.make_exercise(source)
    filled = make_exercises.fill(shipped, {name: e.solution for name, e in exercises.items()})
    for cell in filled.cells:
        cell.id = f"{cell.id[:56]}-filled"
    both = copy.deepcopy(shipped)
    both.cells += filled.cells
    ran = execute(both)  # fails on an error in any cell not tagged raises-exception
    first_run, second_run = ran.cells[: len(shipped.cells)], ran.cells[len(shipped.cells) :]

    for index, cell in enumerate(first_run):
        where = f"exercises/{stem}.ipynb as shipped, {describe(index, cell)}"
        if role(cell) == "answer":
            assert all(e.ename == "NotImplementedError" for e in errors(cell)), f"{where} raised {errors(cell)}"
        elif role(cell) == "check":
            hint = exercises[cell.metadata.checks].hint
            found = [(e.ename, e.evalue) for e in errors(cell)]
            assert len(found) == 1 and found[0][0] == "CheckFailed", f"{where} should fail with CheckFailed, got {found}"
            assert f"is not written yet: {hint}" in found[0][1], (
                f"{where} should say '... is not written yet: {hint}', got {found[0][1]!r}"
            )
    for index, cell in enumerate(second_run):
        if role(cell) == "check":
            where = f"exercises/{stem}.ipynb filled with the solutions, {describe(index, cell)}"
            assert "✓" in stdout(cell), f"{where} printed no ✓: {stdout(cell)!r}"


@pytest.mark.parametrize("stem", STEMS)
def test_wrong_answers_fail_every_check_with_a_hint(stem: str) -> None:
    """Filled with the wrong answers, each check cell fails with a hint; nothing else fails."""
    shipped = make_exercises.make_exercise(solution(stem))
    filled = make_exercises.fill(shipped, wrong_answers(stem))
    for cell in filled.cells:  # let every cell run, and look at the errors afterwards
        if role(cell) != "other":
            cell.metadata.setdefault("tags", []).append("raises-exception")
    ran = execute(filled)

    problems = []
    for index, cell in enumerate(ran.cells):
        where = describe(index, cell)
        found = [(e.ename, e.evalue) for e in errors(cell)]
        if role(cell) == "check":
            if [name for name, _ in found] != ["CheckFailed"]:
                problems.append(f"{where}: should fail with CheckFailed, got {found or 'no error'}")
            elif len(found[0][1].strip()) < 15 or "is not written yet" in found[0][1]:
                problems.append(f"{where}: the hint is not a hint: {found[0][1]!r}")
            if "✓" in stdout(cell):
                problems.append(f"{where}: printed ✓ with a wrong answer")
        elif role(cell) == "other" and found:
            problems.append(f"{where}: failed, but only answer and check cells may: {found}")
    assert not problems, "with the wrong answers of tests/wrong_answers/{}.py:\n  {}".format(stem, "\n  ".join(problems))


# -- the generator --------------------------------------------------------------

ANSWER = '''\
# ✎ Exercise 1
def double(x: int) -> int:
    """Return twice x."""
    ### BEGIN SOLUTION
    # HINT: multiply by two.
    result = x * 2

    return result
    ### END SOLUTION


print("defined")'''

CHECK = '''\
"""Check that double() doubles."""
with checking("double()", success="it doubles"):
    expect(double(2) == 4, "double(2) should be 4")'''


def tiny_solution(answer: str = ANSWER, check: str = CHECK) -> nbformat.NotebookNode:
    """A solution notebook with one exercise, stored as if it had been run."""
    answer_cell = new_code_cell(answer, metadata={"exercise": "double", "execution": {"iopub.status.busy": "t"}})
    answer_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="defined\n")]
    answer_cell.execution_count = 2
    check_cell = new_code_cell(check, metadata={"checks": "double", "scrolled": True})
    check_cell.execution_count = 3
    setup = new_code_cell("from server.checks import checking, expect", execution_count=1)
    notebook = new_notebook(
        cells=[new_markdown_cell(f"{HEADER} ..."), setup, answer_cell, check_cell],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python", "version": "3.11.7"},
            "widgets": {"state": {}},
        },
    )
    for i, cell in enumerate(notebook.cells):
        cell.id = f"cell-{i}"
    return notebook


def test_a_solution_block_becomes_a_stub_with_its_hint() -> None:
    """The block becomes YOUR CODE HERE and a NotImplementedError with the hint, at the block's indentation."""
    exercise = make_exercises.make_exercise(tiny_solution())
    assert exercise.cells[2].source == (
        "# ✎ Exercise 1\n"
        "def double(x: int) -> int:\n"
        '    """Return twice x."""\n'
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("multiply by two.")\n'
        "\n\n"
        'print("defined")'
    )


def test_a_block_without_a_hint_gets_the_generic_one() -> None:
    """Without a # HINT: line the stub says 'write your answer here'."""
    answer = "### BEGIN SOLUTION\nvalue = 42\n### END SOLUTION"
    exercise = make_exercises.make_exercise(tiny_solution(answer))
    assert exercise.cells[2].source == '# YOUR CODE HERE\nraise NotImplementedError("write your answer here")'


def test_a_hint_with_quotes_stays_valid_python() -> None:
    """A hint holding quotes and backslashes is written as a valid string literal."""
    answer = '    ### BEGIN SOLUTION\n    # HINT: send "hi" or \'hi\', then a \\n.\n    pass\n    ### END SOLUTION'
    source = make_exercises.make_exercise(tiny_solution(answer)).cells[2].source
    namespace: dict = {}
    with pytest.raises(NotImplementedError, match=r"""send "hi" or 'hi', then a \\n\."""):
        exec("def f():\n" + source + "\nf()", namespace)
    answer = '### BEGIN SOLUTION\n# HINT: send "hi".\npass\n### END SOLUTION'
    source = make_exercises.make_exercise(tiny_solution(answer)).cells[2].source
    assert source.endswith("""raise NotImplementedError('send "hi".')"""), "double quotes alone read better in single ones"


def test_the_exercise_has_no_outputs_and_only_lesson_metadata() -> None:
    """Outputs, execution counts, timings and editor state are stripped; answers and checks are tagged.

    language_info is kept whole: JupyterLab would fill in what is missing on
    opening, and mark the untouched exercise as changed.
    """
    exercise = make_exercises.make_exercise(tiny_solution())
    code = [cell for cell in exercise.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert exercise.metadata == {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.7"},
    }
    assert code[0].metadata == {}
    assert code[1].metadata == {"exercise": "double", "tags": ["raises-exception"]}
    assert code[2].metadata == {"checks": "double", "tags": ["raises-exception"], "editable": False, "deletable": False}
    assert [cell.id for cell in exercise.cells] == ["cell-0", "cell-1", "cell-2", "cell-3"]


def test_a_solution_only_cell_is_left_out() -> None:
    """A cell tagged solution-only is not in the exercise."""
    notebook = tiny_solution()
    notebook.cells.append(new_markdown_cell("Why this works ...", metadata={"tags": ["solution-only"]}))
    assert len(make_exercises.make_exercise(notebook).cells) == 4


def test_generating_twice_gives_identical_bytes(tmp_path: Path) -> None:
    """The same solution gives a byte-identical exercise, ending in a newline."""
    path = tmp_path / "99_tiny.ipynb"
    nbformat.write(tiny_solution(), path)
    first, second = make_exercises.generate(path), make_exercises.generate(path)
    assert first == second and first.endswith("}\n")
    nbformat.validate(nbformat.reads(first, as_version=4))


def test_fill_puts_answers_in_place_of_the_stubs() -> None:
    """fill() indents each answer like its stub and drops the raises-exception tags of filled exercises."""
    source = tiny_solution()
    filled = make_exercises.fill(make_exercises.make_exercise(source), make_exercises.solutions(source))
    assert filled.cells[2].source == source.cells[2].source.replace(
        "    ### BEGIN SOLUTION\n    # HINT: multiply by two.\n", ""
    ).replace("    ### END SOLUTION\n", "")
    assert filled.cells[2].metadata == {"exercise": "double"}
    assert filled.cells[3].metadata == {"checks": "double", "editable": False, "deletable": False}
    wrong = make_exercises.fill(make_exercises.make_exercise(source), {"double": "\n    return x + 2\n"})
    assert "    # YOUR CODE HERE" not in wrong.cells[2].source
    assert '    """Return twice x."""\n    return x + 2\n' in wrong.cells[2].source
    with pytest.raises(make_exercises.SolutionError, match="'triple'"):
        make_exercises.fill(make_exercises.make_exercise(source), {"triple": "pass"})


@pytest.mark.parametrize(
    ("answer", "metadata", "message"),
    [
        ("x = 1", {"exercise": "double"}, "no solution block"),
        ("x = 1", {}, "no solution blocks"),
        ("### BEGIN SOLUTION\nx = 1", {"exercise": "double"}, "never closed"),
        ("x = 1\n### END SOLUTION", {"exercise": "double"}, "without a '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", {}, 'no "exercise" name'),
        (
            "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION",
            {"exercise": "double"},
            "2 solution blocks",
        ),
        ("### BEGIN SOLUTION\n# HINT: nothing\n### END SOLUTION", {"exercise": "double"}, "empty"),
        ("    ### BEGIN SOLUTION\n    x = 1\n### END SOLUTION", {"exercise": "double"}, "indented like"),
        ("    ### BEGIN SOLUTION\n    # HINT: h\nx = 1\n    ### END SOLUTION", {"exercise": "double"}, "line 3 is indented less"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", {"exercise": "Double Me"}, "snake_case"),
    ],
)
def test_a_broken_solution_notebook_is_refused_with_a_reason(answer: str, metadata: dict, message: str) -> None:
    """Missing or malformed solution blocks and names raise SolutionError saying what is wrong."""
    notebook = tiny_solution(answer)
    notebook.cells[2].metadata = metadata
    if "exercise" not in metadata:
        notebook.cells[3].metadata = {}
    with pytest.raises(make_exercises.SolutionError, match=message):
        make_exercises.make_exercise(notebook, "solutions/99_tiny.ipynb")


def test_an_exercise_without_a_check_or_a_check_without_an_exercise_is_refused() -> None:
    """Each exercise needs a check cell after it, and each check cell names an exercise."""
    notebook = tiny_solution()
    notebook.cells[3].metadata = {}
    with pytest.raises(make_exercises.SolutionError, match="no check cell"):
        make_exercises.make_exercise(notebook)
    notebook.cells[3].metadata = {"checks": "triple"}
    with pytest.raises(make_exercises.SolutionError, match="no answer cell before it"):
        make_exercises.make_exercise(notebook)
    notebook = tiny_solution()
    notebook.cells[1].metadata = {"checks": "double"}  # before its answer cell
    with pytest.raises(make_exercises.SolutionError, match="no answer cell before it"):
        make_exercises.make_exercise(notebook)


def test_check_mode_lists_stale_exercises_and_writes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    """--check exits 1 naming missing or stale exercises; generating makes it pass and is idempotent."""
    monkeypatch.setattr(make_exercises, "SOLUTIONS", tmp_path / "solutions")
    monkeypatch.setattr(make_exercises, "EXERCISES", tmp_path / "exercises")
    (tmp_path / "solutions").mkdir()
    nbformat.write(tiny_solution(), tmp_path / "solutions" / "99_tiny.ipynb")

    assert make_exercises.main(["--check"]) == 1
    assert "99_tiny.ipynb is missing" in capsys.readouterr().err
    assert not (tmp_path / "exercises").exists()

    assert make_exercises.main([]) == 0
    assert "wrote" in capsys.readouterr().out
    assert make_exercises.main(["--check"]) == 0
    assert make_exercises.main([]) == 0
    assert "wrote" not in capsys.readouterr().out

    (tmp_path / "exercises" / "99_tiny.ipynb").write_text("{}", encoding="utf-8")
    assert make_exercises.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err


def test_a_long_hint_is_wrapped_and_keeps_its_text() -> None:
    """A hint too long for one line becomes adjacent string literals that join back into it."""
    hint = "open the connection with connect(url) in a with block,  then send() the text and return recv(timeout=5); " * 3
    lines = make_exercises._stub("    ", hint.strip())
    assert all(len(line) <= make_exercises.MAX_LINE for line in lines)
    namespace: dict = {}
    with pytest.raises(NotImplementedError) as stub:
        exec("def f():\n" + "\n".join(lines) + "\nf()", namespace)
    assert str(stub.value) == hint.strip()
