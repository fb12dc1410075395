"""Execute solution notebooks in place, so their stored outputs are current.

nbval compares ``solutions/`` with the outputs stored in them; after you
change a solution (or a lesson server it uses), run::

    python3 scripts/run_solutions.py              # every solution
    python3 scripts/run_solutions.py 02_binary    # one

Each notebook runs in a fresh kernel with ``solutions/`` as its folder, as
nbval runs it. Timing metadata is not recorded, so a re-run changes only
what really changed. A cell that raises stops the run and leaves the file
as it was. Then regenerate the exercises with ``scripts/make_exercises.py``.

Check cells (``"checks"`` in their metadata) are stored folded, as in the
exercises: a learner comparing with a solution reads the answers, and one
click shows a check's code. A re-run folds any check cell an editor unfolded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def fold_checks(notebook: nbformat.NotebookNode) -> None:
    """Fold the source of every check cell in JupyterLab."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and "checks" in cell.metadata:
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True


def run(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    fold_checks(notebook)
    client = NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(notebook, path)


def main(argv: list[str]) -> int:
    stems = argv or sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))
    for stem in stems:
        path = SOLUTIONS / f"{stem.removesuffix('.ipynb')}.ipynb"
        print(f"running {path.relative_to(SOLUTIONS.parent)}", flush=True)
        run(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
