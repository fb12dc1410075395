#!/usr/bin/env python3
"""Install the course with every dependency at its floor; run the fast tests and the walkthroughs there.

    python3 scripts/floors.py            the floors job of .ci/run
    python3 scripts/floors.py --print    only print the floors, as a pip constraints file

pyproject.toml gives each dependency a floor (``uvicorn>=0.50``), and what the
lessons say must be true at that floor, not only at the newest release. This
script checks it, leaving nothing behind:

1. it copies the course (the files git knows, as they are in the working tree)
   into a temporary folder, so that nothing in the repository is touched;
2. writes a constraints file pinning every dependency and test extra of
   pyproject.toml to its floor (``uvicorn==0.50``); their own dependencies
   resolve to the newest versions that fit;
3. creates a throwaway virtual environment in that folder and installs the
   copy into it: ``pip install -c floors.txt -e .[test]``;
4. runs FAST_TESTS and every walkthrough with nbval-lax, the environment check
   of notebooks/00 among them; everything they write goes to the folder too;
5. deletes the folder. It fails if a step fails, or if the runs left anything
   in their temporary folder (the rule of ``python3 course.py test``).

A floor that fails here is raised in pyproject.toml and environment.yml, with a
comment saying why.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The part of the suite run at the floors: quick, and using every library the lessons rely on.
FAST_TESTS = ["tests/test_text.py", "tests/test_hardening.py", "tests/test_background.py"]
#: All walkthroughs: 00 checks the environment, 01-06 run each lesson's claims at the floors.
NOTEBOOKS = ["notebooks"]


def floors(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """``name==floor`` for each dependency and test extra of ``pyproject``, in its order.

    A requirement without exactly one floor (``>=``) is an error: it could not be tested.
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    pins = []
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        # name, [extras], specifiers, ; marker
        name, specifiers = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?([^;]*).*", requirement).groups()
        lower = [spec.strip()[2:].strip() for spec in specifiers.split(",") if spec.strip().startswith(">=")]
        if len(lower) != 1:
            raise ValueError(f"{requirement!r} in {pyproject.name}: every dependency needs exactly one floor (>=)")
        pins.append(f"{name}=={lower[0]}")
    return pins


def copy_course(dest: Path) -> None:
    """Copy the course as git knows it (tracked files, and new files not ignored) into ``dest``."""
    listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    try:
        names = subprocess.run(listing, cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: all but what git would ignore
        ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", ".autobahn", "results")
        shutil.copytree(ROOT, dest, ignore=ignore)
        return
    for name in filter(None, names):
        if (ROOT / name).is_file():  # a file deleted in the working tree stays out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)


def step(title: str, command: list[str], **options) -> None:
    """Run ``command``; say how long it took; exit if it failed."""
    print(f"[floors] {title}", flush=True)
    start = time.monotonic()
    code = subprocess.call(command, **options)
    print(f"[floors] {'FAILED' if code else 'done'} in {time.monotonic() - start:.0f} s: {title}", flush=True)
    if code:
        raise SystemExit(code)


def run() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="course-floors-") as folder:
        work = Path(folder)
        course, pip_tmp, test_tmp = work / "course", work / "tmp-pip", work / "tmp-tests"
        pip_tmp.mkdir()
        test_tmp.mkdir()
        copy_course(course)
        pins = floors(course / "pyproject.toml")
        constraints = work / "floors.txt"
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        print(f"[floors] Python {sys.version.split()[0]}; floors: {', '.join(pins)}", flush=True)

        env_dir = work / "venv"
        venv.EnvBuilder(with_pip=True).create(env_dir)
        python = str(env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
        env = dict(
            os.environ,
            PYTHONDONTWRITEBYTECODE="1",
            JUPYTER_RUNTIME_DIR=str(work / "jupyter-runtime"),  # kernels' connection files
            PYDEVD_DISABLE_FILE_VALIDATION="1",  # ipykernel 6's debugger warns about frozen modules at every start
        )
        env.pop("PIP_CONSTRAINT", None)  # only the floors constrain this install
        pip_env = dict(env, TMPDIR=str(pip_tmp), TEMP=str(pip_tmp), TMP=str(pip_tmp))
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
        step("installing the course at its floors", [*pip, "-c", str(constraints), "-e", ".[test]"], cwd=course, env=pip_env)
        show_installed(python, pins, env=pip_env)

        test_env = dict(env, TMPDIR=str(test_tmp), TEMP=str(test_tmp), TMP=str(test_tmp))
        pytest = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", "--dist", "loadfile"]
        nbval = ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=30"]
        step("the fast tests and the walkthroughs", [*pytest, *nbval, *FAST_TESTS, *NOTEBOOKS], cwd=course, env=test_env)

        sys.path.insert(0, str(course))
        from course import leftovers  # the rule of `python3 course.py test`

        left = leftovers(test_tmp)
        if left:
            print(f"[floors] FAILED: the runs left {', '.join(left)} in their temporary folder", flush=True)
            raise SystemExit(1)
    print(f"[floors] passed in {time.monotonic() - started:.0f} s; the temporary folder and its venv are deleted", flush=True)


def show_installed(python: str, pins: list[str], **options) -> None:
    """Print the versions installed of the pinned packages, and of Starlette, which FastAPI chooses."""
    names = [pin.split("==")[0] for pin in pins] + ["starlette"]
    code = "import sys; from importlib.metadata import version; print(', '.join(f'{n}=={version(n)}' for n in sys.argv[1:]))"
    installed = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=True, **options).stdout
    print(f"[floors] installed: {installed.strip()}", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--print", action="store_true", help="print the floors as a pip constraints file, and stop")
    if parser.parse_args(argv).print:
        print("\n".join(floors()))
    else:
        run()


if __name__ == "__main__":
    main(sys.argv[1:])
