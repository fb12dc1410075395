"""The exercise notebooks: generated from the solutions, with honest checks.

For every lesson that has a ``solutions/<stem>.ipynb``:

* ``exercises/<stem>.ipynb`` is exactly what ``scripts/make_exercises.py``
  generates from it;
* every exercise has plausible wrong answers in
  ``tests/wrong_answers/<stem>.py``, each with the words its check must say;
* the exercise as shipped runs, and each check says what is not written yet
  and where to get a hint; filled with the solutions, every check passes;
* filled with the wrong answers, round by round, every answer cell runs,
  every check fails with a line that names the mistake, and no other cell
  fails.

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
Wrong = load_module(WRONG_ANSWERS / "__init__.py", "wrong_answers").Wrong


def solution(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=nbformat.NO_CONVERT)


def wrong_answers(stem: str) -> dict[str, list]:
    path = WRONG_ANSWERS / f"{stem}.py"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: it holds WRONG_ANSWERS for the lesson's exercises"
    return load_module(path, f"wrong_answers_{stem}").WRONG_ANSWERS


def rounds(stem: str) -> int:
    """How many runs it takes to try every wrong answer of a lesson: the most any exercise has."""
    path = WRONG_ANSWERS / f"{stem}.py"
    if not path.exists():
        return 1  # test_every_exercise_has_wrong_answers_that_name_their_mistake says what is missing
    return max((len(answers) for answers in wrong_answers(stem).values() if isinstance(answers, list)), default=1)


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
def test_shipped_exercise_says_what_to_write_then_passes_with_the_solutions(stem: str) -> None:
    """Run as shipped, each check says what to write and where to get a hint; filled with the solutions, each passes.

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
            exercise = exercises[cell.metadata.checks]
            said = f"is not written yet: {exercise.task} — stuck? hint({exercise.number})"
            found = [(e.ename, e.evalue) for e in errors(cell)]
            assert len(found) == 1 and found[0][0] == "CheckFailed", f"{where} should fail with CheckFailed, got {found}"
            assert said in found[0][1], f"{where} should say '... {said}', got {found[0][1]!r}"
    for index, cell in enumerate(second_run):
        if role(cell) == "check":
            where = f"exercises/{stem}.ipynb filled with the solutions, {describe(index, cell)}"
            assert "✓" in stdout(cell), f"{where} printed no ✓: {stdout(cell)!r}"


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
    """A solution opens with the restart-and-run-all header, which says how to get hints, and holds the outputs of a run."""
    notebook = solution(stem)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and HEADER in first.source, (
        f"solutions/{stem}.ipynb should open with a markdown cell saying {HEADER!r} ..."
    )
    assert "hint(" in first.source and "solution(" in first.source, (
        f"the header of solutions/{stem}.ipynb should say how to ask for a hint and for the worked answer"
    )
    unrun = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and cell.execution_count is None]
    assert not unrun, f"solutions/{stem}.ipynb is stored with outputs; cells {unrun} were not run"


@pytest.mark.parametrize("stem", STEMS)
def test_check_cells_are_folded_and_answer_cells_are_not(stem: str) -> None:
    """Check cells are stored folded, in the solution and in the exercise; nothing else is."""
    for folder in (SOLUTIONS, EXERCISES):
        notebook = nbformat.read(folder / f"{stem}.ipynb", as_version=4)
        for index, cell in enumerate(notebook.cells):
            folded = cell.metadata.get("jupyter", {}).get("source_hidden", False)
            assert folded == (role(cell) == "check"), (
                f"{folder.name}/{stem}.ipynb, {describe(index, cell)}: "
                + ("a check cell should be folded; run scripts/run_solutions.py" if not folded else "only check cells are folded")
            )


@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_has_wrong_answers_that_name_their_mistake(stem: str) -> None:
    """tests/wrong_answers/<stem>.py has wrong answers for every exercise, none the solution, each with the words of its hint."""
    answers = make_exercises.solutions(solution(stem), f"solutions/{stem}.ipynb")
    wrong = wrong_answers(stem)
    assert set(wrong) == set(answers), (
        f"WRONG_ANSWERS in tests/wrong_answers/{stem}.py should have exactly the exercises "
        f"{sorted(answers)}; missing {sorted(set(answers) - set(wrong))}, unknown {sorted(set(wrong) - set(answers))}"
    )
    for name, answers_to_name in wrong.items():
        assert answers_to_name, f"no wrong answer to {name!r}"
        codes = [make_exercises._dedent(w.code) for w in answers_to_name]
        assert len(set(codes)) == len(codes), f"two wrong answers to {name!r} are the same code"
        for number, w in enumerate(answers_to_name, start=1):
            assert isinstance(w, Wrong), f"wrong answer {number} to {name!r} should be a Wrong(code, says=[...])"
            assert w.code.strip() and make_exercises._dedent(w.code) != answers[name], (
                f"wrong answer {number} to {name!r} is the solution"
            )
            assert w.says and all(isinstance(word, str) and word.strip() for word in w.says), (
                f"wrong answer {number} to {name!r} should say which words its check's ✗ line must contain"
            )


# -- the generator --------------------------------------------------------------

ANSWER = '''\
# ✎ Exercise 1
def double(x: int) -> int:
    """Return twice x."""
    ### BEGIN SOLUTION
    # TASK: return twice x.
    # HINT: Twice is the same number added to itself,
    #   or multiplied.
    # HINT: Multiply by two.
    result = x * 2

    return result
    ### END SOLUTION


print("defined")'''

CHECK = '''\
"""Check that double() doubles."""
with checking("double()", success="it doubles", exercise=1):
    expect(double(2) == 4, "double(2) should be 4")'''

#: What a block needs before its answer: a task and two hints.
TASK_AND_HINTS = "# TASK: t\n# HINT: h1\n# HINT: h2\n"


def block(body: str, header: str = TASK_AND_HINTS, indent: str = "") -> str:
    """An answer cell: the exercise's number, then one solution block with body as its answer."""
    lines = ["### BEGIN SOLUTION", *header.splitlines(), *body.splitlines(), "### END SOLUTION"]
    return "\n".join(["# ✎ Exercise 1", *(indent + line if line else line for line in lines)])


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


def test_a_solution_block_becomes_a_stub_with_its_task() -> None:
    """The block becomes YOUR CODE HERE and a NotImplementedError with the task, at the block's indentation."""
    exercise = make_exercises.make_exercise(tiny_solution())
    assert exercise.cells[2].source == (
        "# ✎ Exercise 1\n"
        "def double(x: int) -> int:\n"
        '    """Return twice x."""\n'
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("return twice x.")\n'
        "\n\n"
        'print("defined")'
    )


def test_task_hints_and_answer_are_read_apart() -> None:
    """The TASK line is the task, the HINT lines (with their continuation lines) the hints in order, the rest the answer."""
    exercise = make_exercises.parse(tiny_solution())["double"]
    assert (exercise.number, exercise.task) == (1, "return twice x.")
    assert exercise.hints == ("Twice is the same number added to itself, or multiplied.", "Multiply by two.")
    assert exercise.solution == "result = x * 2\n\nreturn result"


def test_the_exercise_holds_neither_the_hints_nor_the_answer() -> None:
    """No hint and no line of the answer is anywhere in the generated exercise."""
    text = make_exercises.dumps(make_exercises.make_exercise(tiny_solution()))
    for leftover in ["Twice is", "or multiplied", "Multiply by two", "x * 2", "return result", "# HINT", "# TASK"]:
        assert leftover not in text


def test_a_task_with_quotes_stays_valid_python() -> None:
    """A task holding quotes and backslashes is written as a valid string literal."""
    hints = "# HINT: h1\n# HINT: h2\n"
    answer = block("pass", f"# TASK: send \"hi\" or 'hi', then a \\n.\n{hints}", indent="    ")
    source = make_exercises.make_exercise(tiny_solution(answer)).cells[2].source
    namespace: dict = {}
    with pytest.raises(NotImplementedError, match=r"""send "hi" or 'hi', then a \\n\."""):
        exec("def f():\n" + source + "\nf()", namespace)
    answer = block("pass", f'# TASK: send "hi".\n{hints}')
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
    assert code[2].metadata == {
        "checks": "double",
        "tags": ["raises-exception"],
        "editable": False,
        "deletable": False,
        "jupyter": {"source_hidden": True},
    }
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
    assert filled.cells[2].source == (
        "# ✎ Exercise 1\n"
        "def double(x: int) -> int:\n"
        '    """Return twice x."""\n'
        "    result = x * 2\n"
        "\n"
        "    return result\n"
        "\n\n"
        'print("defined")'
    )
    assert filled.cells[2].metadata == {"exercise": "double"}
    assert filled.cells[3].metadata == {
        "checks": "double",
        "editable": False,
        "deletable": False,
        "jupyter": {"source_hidden": True},
    }
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
        (block(""), {"exercise": "double"}, "empty"),
        ("    ### BEGIN SOLUTION\n    x = 1\n### END SOLUTION", {"exercise": "double"}, "indented like"),
        ("    ### BEGIN SOLUTION\n    # TASK: t\nx = 1\n    ### END SOLUTION", {"exercise": "double"}, "line 3 is indented less"),
        (block("x = 1"), {"exercise": "Double Me"}, "snake_case"),
        (block("x = 1", header=""), {"exercise": "double"}, "must open with a '# TASK: <what to write>' line"),
        (block("x = 1", header="# HINT: h1\n# TASK: t\n# HINT: h2"), {"exercise": "double"}, "the '# TASK:' line comes first"),
        (block("x = 1", header="# TASK: t\n# HINT: h1"), {"exercise": "double"}, "has 1 '# HINT:' line.*at least 2"),
        (block("x = 1\n# HINT: late"), {"exercise": "double"}, "'# HINT:' line inside the answer"),
        (block("x = 1", header="# TASK: t\n# TASK: u\n# HINT: h1\n# HINT: h2"), {"exercise": "double"}, "one '# TASK:' line"),
        (block("x = 1", header="# TASK:\n# HINT: h1\n# HINT: h2"), {"exercise": "double"}, "an empty '# TASK:'"),
        (block("x = 1").replace("Exercise 1", "Exercise 2"), {"exercise": "double"}, "'# ✎ Exercise 1' once .found 2."),
        (block("x = 1").replace("# ✎ Exercise 1\n", ""), {"exercise": "double"}, "'# ✎ Exercise 1' once .found none."),
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
    """Each exercise needs a check cell after it, and each check cell names an exercise and passes its number."""
    notebook = tiny_solution(check=CHECK.replace(", exercise=1", ""))
    with pytest.raises(make_exercises.SolutionError, match=r"passes exercise=1 to checking\(\)"):
        make_exercises.make_exercise(notebook)
    notebook = tiny_solution(check=CHECK.replace("exercise=1", "exercise=2"))
    with pytest.raises(make_exercises.SolutionError, match=r"stuck\? hint\(1\)"):
        make_exercises.make_exercise(notebook)
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


def test_a_long_task_is_wrapped_and_keeps_its_text() -> None:
    """A task too long for one line becomes adjacent string literals that join back into it."""
    task = "open the connection with connect(url) in a with block,  then send() the text and return recv(timeout=5); " * 3
    lines = make_exercises._stub("    ", task.strip())
    assert all(len(line) <= make_exercises.MAX_LINE for line in lines)
    namespace: dict = {}
    with pytest.raises(NotImplementedError) as stub:
        exec("def f():\n" + "\n".join(lines) + "\nf()", namespace)
    assert str(stub.value) == task.strip()


# -- the lessons' notebooks, filled with wrong answers -------------------------
# The two tests that run the lessons' notebooks take most of this module's
# time: one comes first and this one last, so that pytest-xdist, which hands
# out neighbouring tests together, gives them to different workers.


@pytest.mark.parametrize("stem", STEMS)
def test_wrong_answers_fail_their_check_with_the_words_of_their_mistake(stem: str) -> None:
    """Filled with wrong answers, each answer cell runs and its check fails naming the mistake; nothing else fails.

    Round N fills every exercise that has an Nth wrong answer with it and
    leaves the others as stubs. The rounds run one after another in one
    kernel, as when a learner runs the notebook again after each try.
    """
    exercises = make_exercises.parse(solution(stem), f"solutions/{stem}.ipynb")
    shipped = make_exercises.make_exercise(solution(stem))
    wrong = wrong_answers(stem)
    runs = nbformat.v4.new_notebook(metadata=copy.deepcopy(shipped.metadata))
    chosen_in: list[dict] = []  # for each cell of runs, the wrong answers of its round
    for round_ in range(1, rounds(stem) + 1):
        chosen = {name: answers[round_ - 1] for name, answers in wrong.items() if len(answers) >= round_}
        filled = make_exercises.fill(shipped, {name: w.code for name, w in chosen.items()})
        for cell in filled.cells:
            cell.id = f"{cell.id[:50]}-round{round_}"
            if role(cell) != "other":  # let every cell run, and look at the errors afterwards
                cell.metadata.setdefault("tags", []).append("raises-exception")
        runs.cells += filled.cells
        chosen_in += [chosen] * len(filled.cells)
    ran = execute(runs)

    problems = []
    for index, (cell, chosen) in enumerate(zip(ran.cells, chosen_in)):
        name = cell.metadata.get("exercise") or cell.metadata.get("checks")
        round_ = 1 + index // len(shipped.cells)
        where = f"round {round_}, {describe(index % len(shipped.cells), cell)}"
        found = [(e.ename, e.evalue) for e in errors(cell)]
        if role(cell) == "other":
            if found:
                problems.append(f"{where}: failed, but only answer and check cells may: {found}")
            continue
        if name not in chosen:
            continue  # a stub this round
        if role(cell) == "answer":
            if found:
                problems.append(f"{where}: the answer cell itself raised {found}; only its check may fail")
            continue
        number = exercises[name].number
        if [ename for ename, _ in found] != ["CheckFailed"]:
            problems.append(f"{where}: should fail with CheckFailed, got {found or 'no error'}")
            continue
        line = found[0][1]
        missing = [word for word in chosen[name].says if word not in line]
        present = [word for word in chosen[name].never if word in line]
        if missing:
            problems.append(f"{where}: the ✗ line should name the mistake with {missing}: {line!r}")
        if present:
            problems.append(f"{where}: the ✗ line should not say {present}: {line!r}")
        if "is not written yet" in line or not line.endswith(f" — stuck? hint({number})"):
            problems.append(f"{where}: the ✗ line should end with 'stuck? hint({number})', not say 'not written yet': {line!r}")
        if "✓" in stdout(cell):
            problems.append(f"{where}: printed ✓ with a wrong answer")
    assert not problems, "with the wrong answers of tests/wrong_answers/{}.py:\n  {}".format(stem, "\n  ".join(problems))
