#!/usr/bin/env python3
"""Set up and run the course with nothing but Python 3.11+.

    python3 course.py lab     install, then open JupyterLab at the first lesson
    python3 course.py test    install, then run every test and check every notebook

Both create a virtual environment in ``.venv`` inside the repository (ignored
by git) and install the course into it with pip the first time, and again
whenever ``pyproject.toml`` or ``constraints.txt`` changes. pip installs the
exact versions in ``constraints.txt``, so that every learner of a workshop runs
the same code. Other commands:

    python3 course.py exercises   regenerate exercises/ from solutions/
    python3 course.py solutions   re-execute solutions/, then regenerate exercises/
    python3 course.py bench       run the benchmarks (see benchmarks/README.md)
    python3 course.py conformance  run the Autobahn WebSocket testsuite (see docs/conformance.md)
    python3 course.py workshop    run the instructor's workshop server (see docs/instructor.md)
    python3 course.py lock        regenerate constraints.txt with the newest versions pyproject.toml allows

Options after the command go to the tool it runs: ``python3 course.py lab
--no-browser --port 8890`` to JupyterLab, ``python3 course.py test -k text``
to each pytest run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"
# The exact version of every package the course installs (pip's -c format); `lock` writes it.
CONSTRAINTS = ROOT / "constraints.txt"

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
    # Coverage of the server package, printed per file that is not fully
    # covered and in total (server code run by subprocesses is not counted).
    "tests": ["tests", "-n", "2", "-p", "no:cacheprovider", "--cov=server", "--cov-report=term:skip-covered"],
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
    # What was installed from: the dependencies and the versions pinned for them.
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()
    stamps = {name: VENV / f".installed-{name}" for name in ("lab", "test")}

    def current(name: str) -> bool:
        stamp = stamps[name]
        return PYTHON.exists() and stamp.exists() and stamp.read_text() == digest

    # The test install includes everything the lab needs.
    if current("test") or (extra is None and current("lab")):
        return
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV.relative_to(ROOT)}/")
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = f".[{extra}]" if extra else "."
    say(f"installing the course ({spec}) with pip; the first time takes a minute or two")
    pip = [PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "-c", CONSTRAINTS.relative_to(ROOT), "-e", spec])
    stamps[extra or "lab"].write_text(digest)


def run(command: list[os.PathLike | str]) -> int:
    """Run a command in the repository root; exit if it fails."""
    code = subprocess.call([str(part) for part in command], cwd=ROOT)
    if code:
        sys.exit(code)
    return code


def lab(args: list[str]) -> None:
    """Install, then become JupyterLab: stopping this command stops JupyterLab.

    On POSIX this process turns into JupyterLab (``os.execv``), so Ctrl+C,
    ``kill`` or a supervisor's SIGTERM reach JupyterLab itself, which shuts
    down its kernels and exits. Windows has no such hand-over (its
    ``os.execv`` starts a new process and returns to the shell at once), so
    there JupyterLab runs as a child that goes when this command is stopped.
    """
    install(None)
    say(f"starting JupyterLab at {FIRST_NOTEBOOK} (Ctrl+C to stop)")
    jupyter = [PYTHON, "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT}", FIRST_NOTEBOOK, *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args:
        # Containers and CI machines often run as root; JupyterLab refuses to
        # without this flag.
        say("running as root: passing --allow-root to JupyterLab")
        jupyter.append("--allow-root")
    command = [str(part) for part in jupyter]
    if os.name == "nt":
        raise SystemExit(run_until_stopped(command))
    os.chdir(ROOT)
    os.execv(command[0], command)


def run_until_stopped(command: list[str]) -> int:
    """Run ``command`` as a child; when this process is told to stop, so is the child.

    Ctrl+C reaches every process in the console, the child too: wait for it
    to shut down, end it if it has not within 10 s, and exit with 0. Ctrl+Break
    (SIGBREAK) and SIGTERM are passed on; a hard kill of this process (Task
    Manager) cannot be. Otherwise returns the child's exit code.
    """
    child = subprocess.Popen(command, cwd=ROOT)

    def pass_on(signum: int, frame: object) -> None:
        child.terminate()

    for name in ("SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), pass_on)
    interrupted = False
    try:
        while True:
            try:
                code = child.wait()
                return 0 if interrupted else code
            except KeyboardInterrupt:
                interrupted = True
                try:
                    child.wait(timeout=10)
                except (subprocess.TimeoutExpired, KeyboardInterrupt):
                    child.terminate()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def test(args: list[str]) -> None:
    """Run the pytest sessions with a temporary folder of their own; fail if they leave anything in it."""
    install("test")
    failed = []
    # Whatever a test, a server or a kernel leaves in its temporary folder
    # shows up here, instead of piling up in the machine's.
    tmpdir = Path(tempfile.mkdtemp(prefix="course-test-"))
    env = dict(os.environ, TMPDIR=str(tmpdir), TEMP=str(tmpdir), TMP=str(tmpdir))
    try:
        say("ruff: lint and import order")
        if subprocess.call([str(PYTHON), "-m", "ruff", "check", "."], cwd=ROOT):
            failed.append("ruff")
        for title, pytest_args in PYTEST_RUNS.items():
            say(f"pytest: {title}")
            code = subprocess.call([str(PYTHON), "-m", "pytest", *pytest_args, *args], cwd=ROOT, env=env)
            if code not in (0, 5):  # 5: nothing selected by -k
                failed.append(title)
        left = leftovers(tmpdir)
        if left:
            shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
            things = "1 thing" if len(left) == 1 else f"{len(left)} things"
            say(f"the test runs left {things} in their temporary folder {tmpdir}: {shown}")
            failed.append("leftovers in the temporary folder")
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if failed:
        say("FAILED: " + ", ".join(failed))
        raise SystemExit(1)
    say("all test runs passed")


def leftovers(tmpdir: Path) -> list[str]:
    """What is in ``tmpdir``, as names relative to it (a folder's end in "/").

    pytest's own folder (``pytest-of-<user>``) stays by design; only what is
    inside it counts: the folders of failed tests, or of a run that did not
    clean up (see tmp_path_retention_policy in pyproject.toml).
    """
    found = []
    for entry in sorted(tmpdir.iterdir()):
        if entry.name.startswith("pytest-of-") and entry.is_dir() and not entry.is_symlink():
            found += [f"{entry.name}/{inner.name}" for inner in sorted(entry.iterdir())]
        else:
            found.append(entry.name + ("/" if entry.is_dir() else ""))
    return found


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


def conformance(args: list[str]) -> None:
    install("test")
    command = [str(PYTHON), "-m", "benchmarks.conformance", *args]
    if os.name == "nt":
        run(command)
        return
    # Become the runner, so that Ctrl+C reaches it alone and it stops its
    # fuzzing client and server before it exits.
    os.chdir(ROOT)
    os.execv(command[0], command)


def workshop(args: list[str]) -> None:
    """Install, then become the workshop server (``python -m server.workshop``), options passed on."""
    install(None)
    command = [str(PYTHON), "-m", "server.workshop", *args]
    if os.name == "nt":
        raise SystemExit(run_until_stopped(command))
    # Become the server, so that Ctrl+C reaches it alone and it shuts down cleanly.
    os.chdir(ROOT)
    os.execv(command[0], command)


def lock(args: list[str]) -> None:
    """Rewrite constraints.txt: the newest versions pyproject.toml allows, pinned as pip freeze lists them.

    Resolves in a fresh virtual environment in a temporary folder, deleted
    afterwards, so that nothing already installed sways the choice. Run it
    when a dependency's range changes, or before a workshop to move to the
    newest releases; then run ``python3 course.py test`` and commit the file.
    """
    if sys.version_info < (3, 11):
        sys.exit(f"The course needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # The course's own requirements, not the course: pip freeze then lists everything but the course.
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    with tempfile.TemporaryDirectory(prefix="course-lock-") as folder:
        env_dir = Path(folder) / "venv"
        venv.EnvBuilder(with_pip=True).create(env_dir)
        python = env_dir / BIN.name / PYTHON.name
        say("installing the newest versions pyproject.toml allows into a throwaway virtual environment")
        run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements, *args])
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    pins = [line for line in frozen.splitlines() if line and not line.startswith("#")]
    unpinned = [line for line in pins if "==" not in line or " @ " in line]
    if unpinned:  # a package installed from a URL or a local path: a room could not install it
        sys.exit("pip freeze listed packages without a version from an index: " + ", ".join(unpinned))
    header = [
        "# The exact version of every package the course installs, so that a whole room runs the same code.",
        "# python3 course.py lab and test install with it: pip install -c constraints.txt -e '.[test]'",
        "# Regenerate with python3 course.py lock: the newest versions pyproject.toml allows, as pip freeze",
        "# lists them after a fresh install; tests/test_setup.py checks that every pin fits pyproject.toml.",
        f"# Made with Python {sys.version.split()[0]} on {sys.platform}; packages only another system needs (colorama",
        "# and pywinpty on Windows, appnope on macOS) are left to pip there.",
    ]
    CONSTRAINTS.write_text("\n".join(header + pins) + "\n", encoding="utf-8")
    say(f"wrote {CONSTRAINTS.name}: {len(pins)} pins")


COMMANDS = {
    "lab": lab,
    "test": test,
    "exercises": exercises,
    "solutions": solutions,
    "bench": bench,
    "conformance": conformance,
    "workshop": workshop,
    "lock": lock,
}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        raise SystemExit(0 if argv[:1] in (["-h"], ["--help"]) else 2)
    COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
