"""How long each lesson takes: the estimates its header states, and how they are counted.

    python3 scripts/lesson_times.py          # the table, from the notebooks' text
    python3 scripts/lesson_times.py --run    # and each walkthrough's running time, measured here

Reading time is counted, not guessed: 150 words of prose a minute and 50
words of code a minute (about ten lines: code is read slowly, and each cell
is run and its output looked at), rounded to 5 minutes. Exercises take about
7 minutes each: read the task, write a few lines, run the check, sometimes
ask for a hint; a quiz question (an exercise named ``qN_...``: pick letters,
read the explanation) about 3. Those are estimates from the number of
exercises, not measurements of learners; a workshop that measures its own
should say so.

Each walkthrough states ``**Time:** about R min reading, then about E min
for the N exercises`` and ``tests/test_notebooks.py`` keeps R and E within
5 minutes of these counts, so the header cannot drift from the lesson.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
PROSE_WORDS_PER_MINUTE = 150
CODE_WORDS_PER_MINUTE = 50
MINUTES_PER_EXERCISE = 7
MINUTES_PER_QUESTION = 3
QUESTION = re.compile(r"q\d+_")


def lessons() -> list[str]:
    """Every lesson's stem, in course order (each has a solution notebook)."""
    return sorted(path.stem for path in (ROOT / "solutions").glob("*.ipynb"))


def round5(minutes: float) -> int:
    """Round to the nearest 5 minutes, and never below 5."""
    return max(5, int(5 * round(minutes / 5)))


@dataclass
class LessonTime:
    stem: str
    prose_words: int
    code_words: int
    exercises: int
    questions: int

    @property
    def reading(self) -> int:
        return round5(self.prose_words / PROSE_WORDS_PER_MINUTE + self.code_words / CODE_WORDS_PER_MINUTE)

    @property
    def practice(self) -> int:
        return round5((self.exercises - self.questions) * MINUTES_PER_EXERCISE + self.questions * MINUTES_PER_QUESTION)


def count(stem: str) -> LessonTime:
    """Count a lesson's walkthrough words and its exercises."""
    walkthrough = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    prose = sum(len(c.source.split()) for c in walkthrough.cells if c.cell_type == "markdown")
    code = sum(len(c.source.split()) for c in walkthrough.cells if c.cell_type == "code")
    solution = nbformat.read(ROOT / "solutions" / f"{stem}.ipynb", as_version=4)
    names = [c.metadata["exercise"] for c in solution.cells if "exercise" in c.metadata]
    return LessonTime(stem, prose, code, len(names), sum(bool(QUESTION.match(name)) for name in names))


def stated(stem: str) -> tuple[int, int] | None:
    """The reading and exercise minutes a walkthrough's header states, or None."""
    walkthrough = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    text = "\n".join(c.source for c in walkthrough.cells if c.cell_type == "markdown")
    found = re.search(r"\*\*Time:\*\* about (\d+) min reading, then about (\d+) min", text)
    return (int(found[1]), int(found[2])) if found else None


def run_seconds(stem: str) -> float:
    """Run a walkthrough in a fresh kernel, as a learner's Run All does, and time it."""
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=60, resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    measure = "--run" in argv
    rows = [count(stem) for stem in lessons()]
    print(f"{'lesson':22} {'reading':>8} {'exercises':>10} {'practice':>9}" + ("  run all" if measure else ""))
    for row in rows:
        line = f"{row.stem:22} {row.reading:>5} min {row.exercises:>10} {row.practice:>5} min"
        if measure:
            line += f"  {run_seconds(row.stem):6.1f} s"
        print(line)
    reading, practice = sum(r.reading for r in rows), sum(r.practice for r in rows)
    print(f"{'total':22} {reading:>5} min {sum(r.exercises for r in rows):>10} {practice:>5} min")
    print(f"course: about {reading + practice} min, {reading} reading and {practice} exercises")


if __name__ == "__main__":
    main(sys.argv[1:])
