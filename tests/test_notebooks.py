"""The notebooks as files: stored clean, complete, and linked correctly."""

import importlib.util
import re
import sys
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("lesson_times", ROOT / "scripts" / "lesson_times.py")
lesson_times = sys.modules["lesson_times"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lesson_times)
# Every lesson has a solution notebook; the test below requires the other two.
LESSONS = lesson_times.lessons()
ALL_NOTEBOOKS = sorted(
    p.relative_to(ROOT).as_posix() for folder in ("notebooks", "exercises", "solutions") for p in (ROOT / folder).glob("*.ipynb")
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(path: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / path, as_version=4)


def markdown(notebook) -> str:
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def test_every_lesson_has_its_three_notebooks():
    """Each lesson stem has a walkthrough, an exercise and a solution notebook."""
    for stem in LESSONS:
        for folder in ("notebooks", "exercises", "solutions"):
            assert (ROOT / folder / f"{stem}.ipynb").exists(), f"{folder}/{stem}.ipynb"
    assert (ROOT / "notebooks" / "00_start_here.ipynb").exists()


@pytest.mark.parametrize("path", [p for p in ALL_NOTEBOOKS if not p.startswith("solutions/")])
def test_walkthroughs_and_exercises_are_stored_without_outputs(path):
    """Walkthroughs and exercises are stored with no outputs and no execution counts."""
    for cell in code_cells(read(path)):
        assert cell.outputs == [], f"{path}: a cell has stored outputs"
        assert cell.execution_count is None, f"{path}: a cell has an execution count"


@pytest.mark.parametrize("path", [p for p in ALL_NOTEBOOKS if p.startswith("solutions/")])
def test_solutions_are_stored_executed_in_order(path):
    """Solutions are stored run top to bottom, so nbval has outputs to compare."""
    counts = [cell.execution_count for cell in code_cells(read(path))]
    assert None not in counts, f"{path}: a code cell was never run"
    assert counts == sorted(counts), f"{path}: cells were run out of order"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS)
def test_notebooks_are_valid_and_use_python_3(path):
    """Every notebook validates against nbformat 4 and names the python3 kernel."""
    notebook = read(path)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("stem", LESSONS)
def test_walkthrough_has_the_parts_of_a_lesson(stem):
    """A walkthrough has objectives, a time, the server's own code, a diagram, a summary, a next link, and stops its server."""
    notebook = read(f"notebooks/{stem}.ipynb")
    text = markdown(notebook)
    code = "\n".join(c.source for c in code_cells(notebook))
    assert re.search(r"objectives|you will learn", text, re.IGNORECASE), "no learning objectives"
    assert re.search(r"\d+\s*min", text), "no estimated time"
    assert "getsource" in code, "the server code is not shown from the module itself"
    assert "```mermaid" in text and "sequenceDiagram" in text, "no mermaid sequence diagram"
    assert "Summary — you learned how to:" in text, "no summary"
    assert "BackgroundServer" in code, "the lesson server is not started with the helper"
    assert re.search(r"\.stop\(\)|stop_all\(\)", code_cells(notebook)[-1].source), "the last code cell does not stop the server"
    if stem != LESSONS[-1]:
        following = LESSONS[LESSONS.index(stem) + 1]
        assert f"{following}.ipynb" in text, f"no link to the next lesson {following}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS + ["README.md", "CONTRIBUTING.md", "benchmarks/README.md"])
def test_relative_links_resolve(path):
    """Every relative link in a notebook's markdown or a README points to an existing file."""
    if path.endswith(".ipynb"):
        text = markdown(read(path))
    else:
        if not (ROOT / path).exists():
            pytest.skip(f"{path} does not exist")
        text = (ROOT / path).read_text()
    base = (ROOT / path).parent
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        file = unquote(target.split("#")[0])
        assert (base / file).exists(), f"{path}: broken link {target}"


@pytest.mark.parametrize("stem", LESSONS)
def test_no_legacy_websockets_api_in_notebooks(stem):
    """Notebooks use websockets.sync / websockets.asyncio, never the legacy client."""
    for folder in ("notebooks", "solutions"):
        code = "\n".join(c.source for c in code_cells(read(f"{folder}/{stem}.ipynb")))
        assert "websockets.legacy" not in code
        assert not re.search(r"from websockets import connect|websockets\.connect\(", code)


def test_start_page_and_readme_list_every_lesson():
    """The start page's contents and table, and the README's lesson table, link every lesson."""
    start = markdown(read("notebooks/00_start_here.ipynb"))
    readme = (ROOT / "README.md").read_text()
    for stem in LESSONS:
        assert start.count(f"]({stem}.ipynb)") >= 2, f"00_start_here: {stem} missing from the contents or the table"
        for folder in ("exercises", "solutions"):
            assert f"](../{folder}/{stem}.ipynb)" in start, f"00_start_here's table has no {folder} link for {stem}"
        assert f"](notebooks/{stem}.ipynb)" in readme, f"README's lesson table has no row for {stem}"


@pytest.mark.parametrize("stem", LESSONS)
def test_stated_times_match_the_lesson(stem):
    """A walkthrough's header states reading and exercise minutes within 5 of what scripts/lesson_times.py counts."""
    counted = lesson_times.count(stem)
    stated = lesson_times.stated(stem)
    assert stated, f"{stem}: no '**Time:** about R min reading, then about E min ...' line"
    reading, practice = stated
    assert abs(reading - counted.reading) <= 5, f"{stem}: states {reading} min reading, counted {counted.reading}"
    assert abs(practice - counted.practice) <= 5, f"{stem}: states {practice} min of exercises, counted {counted.practice}"


def test_start_page_states_the_course_total():
    """The start page states the course's total reading and exercise time, as the lessons add up."""
    rows = [lesson_times.count(stem) for stem in LESSONS]
    reading, practice = sum(r.reading for r in rows), sum(r.practice for r in rows)
    start = markdown(read("notebooks/00_start_here.ipynb"))
    found = re.search(r"\*\*Time:\*\*[^\n]*?(\d+) min of reading[^\n]*?(\d+) min of exercises", start)
    assert found, "00_start_here: no '**Time:** ... N min of reading ... M min of exercises' line"
    assert abs(int(found[1]) - reading) <= 10, f"start page states {found[1]} min of reading, the lessons add up to {reading}"
    assert abs(int(found[2]) - practice) <= 10, f"start page states {found[2]} min of exercises, the lessons add up to {practice}"


def anchors(notebook) -> set[str]:
    """The ids JupyterLab gives a notebook's headings: the heading's text, spaces turned into hyphens."""
    found = set()
    for line in markdown(notebook).splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading[1])
            text = text.replace("`", "").replace("**", "").replace("*", "").strip()
            found.add(text.replace(" ", "-"))
    return found


@pytest.mark.parametrize("path", ALL_NOTEBOOKS)
def test_links_to_a_notebook_section_find_it(path):
    """A link to a section of a notebook (file.ipynb#Section) names a heading that exists there."""
    base = (ROOT / path).parent
    for target in LINK.findall(markdown(read(path))):
        file, _, anchor = target.partition("#")
        if re.match(r"^[a-z]+:", target) or not anchor or not (file.endswith(".ipynb") or not file):
            continue
        target_path = (base / unquote(file)).resolve().relative_to(ROOT).as_posix() if file else path
        assert unquote(anchor) in anchors(read(target_path)), f"{path}: no section {anchor!r} in {file}"


def test_instructor_guide_times_match_the_lessons():
    """docs/instructor.md's timings table gives each lesson's reading and exercise minutes as the lessons count them."""
    guide = (ROOT / "docs" / "instructor.md").read_text()
    found = re.findall(r"^\| (\d\d) [^|]+\| (\d+) min \| \d+ \| (\d+) min \|", guide, re.MULTILINE)
    rows = {number: (int(reading), int(practice)) for number, reading, practice in found}
    assert sorted(rows) == [stem[:2] for stem in LESSONS], "the guide's table lists every lesson once"
    for stem in LESSONS:
        counted = lesson_times.count(stem)
        reading, practice = rows[stem[:2]]
        assert abs(reading - counted.reading) <= 5, f"docs/instructor.md: {stem} reading {reading} min, counted {counted.reading}"
        assert abs(practice - counted.practice) <= 5, (
            f"docs/instructor.md: {stem} exercises {practice}, counted {counted.practice}"
        )
