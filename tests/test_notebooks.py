"""The notebooks as files: stored clean, complete, and linked correctly."""

import re
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ["01_text", "02_binary", "03_json", "04_timeout", "05_quiz_and_errors", "06_hardening"]
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
