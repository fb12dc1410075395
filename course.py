#!/usr/bin/env python3
"""Set up and run the course with nothing but Python 3.11+.

    python3 course.py lab     install, then open JupyterLab at the first lesson
    python3 course.py test    install, then run every test and check every notebook

Both create a virtual environment in ``.venv`` inside the repository (ignored
by git) and install the course into it with pip the first time, and again
whenever ``pyproject.toml`` changes. Other commands:

    python3 course.py exercises   regenerate exercises/ from solutions/
    python3 course.py solutions   re-execute solutions/, then regenerate exercises/
    python3 course.py bench       run the benchmarks (see benchmarks/README.md)

Options after the command go to the tool it runs: ``python3 course.py lab
--no-browser --port 8890`` to JupyterLab, ``python3 course.py test -k text``
to each pytest run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"

# The notebook suites: solutions are compared with their stored outputs;
# walkthroughs and exercises only have to run (exercises fail on purpose,
# in cells tagged raises-exception). A cell that hangs fails after seconds.
NBVAL_COMMON = [
    "--nbval-current-env",
    "--nbval-cell-timeout=30",
    "-p",
    "no:cacheprovider",
    "-n",
    "2",
    "--dist",
    "loadfile",
]
PYTEST_RUNS = {
    "tests": ["tests", "-n", "2", "-p", "no:cacheprovider"],
    "solutions (strict nbval)": [
        "--nbval",
        "--nbval-sanitize-with",
        "tests/sanitize.cfg",
        *NBVAL_COMMON,
        "solutions",
    ],
    "walkthroughs and exercises (nbval-lax)": ["--nbval-lax", *NBVAL_COMMON, "notebooks", "exercises"],
}


def say(message: str) -> None:
    print(f"[course] {message}", flush=True)


def install(extra: str | None) -> None:
    """Create .venv and install the course into it, unless already done."""
    if sys.version_info < (3, 11):
        sys.exit(f"The course needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    stamps = {name: VENV / f".installed-{name}" for name in ("lab", "test")}

    def current(name: str) -> bool:
        stamp = stamps[name]
        return PYTHON.exists() and stamp.exists() and stamp.read_text() == hashlib.sha256(pyproject).hexdigest()

    # The test install includes everything the lab needs.
    if current("test") or (extra is None and current("lab")):
        return
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV.relative_to(ROOT)}/")
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = f".[{extra}]" if extra else "."
    say(f"installing the course ({spec}) with pip; the first time takes a minute or two")
    run([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", spec])
    stamps[extra or "lab"].write_text(hashlib.sha256(pyproject).hexdigest())


def run(command: list[os.PathLike | str]) -> int:
    """Run a command in the repository root; exit if it fails."""
    code = subprocess.call([str(part) for part in command], cwd=ROOT)
    if code:
        sys.exit(code)
    return code


def lab(args: list[str]) -> None:
    install(None)
    say(f"starting JupyterLab at {FIRST_NOTEBOOK} (Ctrl+C to stop)")
    jupyter = [PYTHON, "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT}", FIRST_NOTEBOOK, *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args:
        # Containers and CI machines often run as root; JupyterLab refuses to
        # without this flag.
        say("running as root: passing --allow-root to JupyterLab")
        jupyter.append("--allow-root")
    try:
        raise SystemExit(subprocess.call([str(part) for part in jupyter], cwd=ROOT))
    except KeyboardInterrupt:
        raise SystemExit(0) from None


def test(args: list[str]) -> None:
    install("test")
    failed = []
    for title, pytest_args in PYTEST_RUNS.items():
        say(f"pytest: {title}")
        code = subprocess.call([str(PYTHON), "-m", "pytest", *pytest_args, *args], cwd=ROOT)
        if code not in (0, 5):  # 5: nothing selected by -k
            failed.append(title)
    if failed:
        say("FAILED: " + ", ".join(failed))
        raise SystemExit(1)
    say("all test runs passed")


def exercises(args: list[str]) -> None:
    install("test")
    run([PYTHON, "scripts/make_exercises.py", *args])


def solutions(args: list[str]) -> None:
    install("test")
    run([PYTHON, "scripts/run_solutions.py", *args])
    run([PYTHON, "scripts/make_exercises.py", *args])


def bench(args: list[str]) -> None:
    install("test")
    run([PYTHON, "-m", "benchmarks", *args])


COMMANDS = {"lab": lab, "test": test, "exercises": exercises, "solutions": solutions, "bench": bench}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        raise SystemExit(0 if argv[:1] in (["-h"], ["--help"]) else 2)
    COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
