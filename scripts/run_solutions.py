"""Execute solution notebooks in place, so their stored outputs are current.

nbval compares ``solutions/`` with the outputs stored in them; after you
change a solution (or a lesson server it uses), run::

    python3 scripts/run_solutions.py              # every solution
    python3 scripts/run_solutions.py 02_binary    # one

Each notebook runs in a fresh kernel with ``solutions/`` as its folder, as
nbval runs it. Timing metadata is not recorded, so a re-run changes only
what really changed. A cell that raises stops the run and leaves the file
as it was. Then regenerate the exercises with ``scripts/make_exercises.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def run(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
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
