"""The set-up: environment.yml, the command lines, and the lab command."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import free_port, stop_process, wait_for_port
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent


#: conda-forge names that differ from PyPI's (conda-forge's "redis" is an old client, 3.5.3; redis-py is current).
CONDA_TO_PYPI = {"redis-py": "redis"}


def normalise(requirement: str) -> str:
    """'Nest_Asyncio >= 1.6' -> 'nest-asyncio>=1.6'; a conda-forge name becomes its PyPI name."""
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    name = re.sub(r"[-_.]+", "-", name).lower()
    return CONDA_TO_PYPI.get(name, name) + spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    """environment.yml lists exactly the dependencies and test extras of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {normalise(d) for d in environment["dependencies"] if isinstance(d, str)}
    assert conda - {"pip", "python>=3.11"} == wanted
    assert f"python{project['requires-python']}" in conda
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e ."]


@contextmanager
def running(*args: str, port: int, deadline: float = 60, env: dict | None = None):
    """Run a command in the background until the block ends; yield once port answers."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_port(port, process, deadline, output=process.stderr.read)
        yield process
    finally:
        stop_process(process)


@pytest.mark.parametrize(
    ("module", "path", "message", "expected"),
    [
        ("server.text", "/ws/chat", "hi", "Server received: hi"),
        ("server.json_messages", "/ws/json-demo", "{", '"code":"invalid_json"'),
        ("server.timeout", "/ws/with-timeout", "hi", '{"type":"echo","data":"hi"}'),
        ("server.mixed", "/ws/mixed", "hi", "text:hi"),
        ("server.testing", "/ws/sum", '{"type":"sum","id":1,"numbers":[1]}', '"sum":1'),
        ("server.chat", "/ws/room", '{"type":"members"}', '"code":"not_joined"'),
    ],
)
def test_lesson_module_runs_from_the_command_line(module, path, message, expected):
    """python -m server.<lesson> --port N serves the lesson on 127.0.0.1."""
    port = free_port()
    with running(sys.executable, "-m", module, "--port", str(port), "--log-level", "warning", port=port):
        with connect(f"ws://127.0.0.1:{port}{path}") as websocket:
            websocket.send(message)
            assert expected in websocket.recv(timeout=5)


def test_timeout_module_takes_its_knobs_from_the_command_line():
    """--idle-timeout and --max-missed reach the timeout lesson's app."""
    port = free_port()
    knobs = ["--idle-timeout", "0.1", "--max-missed", "1"]
    with running(sys.executable, "-m", "server.timeout", "--port", str(port), *knobs, port=port):
        with connect(f"ws://127.0.0.1:{port}/ws/with-timeout") as websocket:
            assert websocket.recv(timeout=5) == '{"type":"heartbeat","seq":1}'


def test_lab_command_serves_jupyterlab_with_the_first_lesson():
    """python3 course.py lab --no-browser starts JupyterLab; /lab and the first notebook answer."""
    port = free_port()
    token = "course-test-token"
    env = dict(os.environ, JUPYTER_PLATFORM_DIRS="1")
    command = [sys.executable, str(ROOT / "course.py"), "lab", "--no-browser", f"--port={port}"]
    options = ["--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    with running(*command, *options, port=port, deadline=120, env=env):
        headers = {"Authorization": f"token {token}"}
        lab = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/lab", headers=headers), timeout=30)
        assert lab.status == 200
        assert "JupyterLab" in lab.read().decode()
        notebook = urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{port}/api/contents/notebooks/00_start_here.ipynb?content=0", headers=headers
            ),
            timeout=30,
        )
        assert notebook.status == 200


# -- a test run leaves nothing behind ------------------------------------------------

#: A slice of the suite that makes every kind of process and temporary file the
#: course makes: JupyterLab through course.py, lesson servers with their storage,
#: the file-transfer client, and a notebook kernel.
SLICE = [
    "tests/test_setup.py::test_lab_command_serves_jupyterlab_with_the_first_lesson",
    "tests/test_binary.py::test_file_sent_in_three_chunks_keeps_every_chunk",
    "tests/test_binary.py::test_module_app_keeps_files_in_a_temporary_folder_until_its_last_server_stops",
    "tests/test_binary_client.py::test_upload_returns_done_and_stores_the_file",
    "notebooks/02_binary.ipynb",
]


def load_course():
    """course.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("course", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def marked_processes(mark: str) -> list[psutil.Process]:
    """The live processes whose environment carries COURSE_LEFTOVER_MARK=mark.

    jupyter_client starts kernels in sessions of their own, so neither the
    process tree nor process groups find them all; the environment does.
    """
    found = []
    for process in psutil.process_iter():
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            if process.environ().get("COURSE_LEFTOVER_MARK") == mark:
                found.append(process)
    return found


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_test_run_leaves_no_process_and_no_temporary_file(tmp_path):
    """A run of tests and a notebook leaves no process running and nothing in its temporary folder."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    mark = uuid.uuid4().hex
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env.update(TMPDIR=str(tmpdir), TEMP=str(tmpdir), TMP=str(tmpdir), COURSE_LEFTOVER_MARK=mark)
    nbval = ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=30"]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *nbval, *SLICE]
    try:
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=500)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        # A kernel may still be on its way out: give it a moment.
        _, alive = psutil.wait_procs(marked_processes(mark), timeout=10)
        assert alive == [], "still running: " + "; ".join(" ".join(p.cmdline())[:200] for p in alive)
        # pytest keeps its own pytest-of-<user> folder; leftovers() looks inside it.
        assert load_course().leftovers(tmpdir) == []
    finally:
        for process in marked_processes(mark):
            with suppress(psutil.NoSuchProcess):
                process.kill()


# -- pinned versions, floors and the environment check ------------------------------


def declared() -> list[Requirement]:
    """The dependencies and test extras pyproject.toml declares."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]


def pins() -> dict[str, str]:
    """constraints.txt as {canonical name: version}; every line a comment or an exact pin, each package once."""
    found: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*)", line)
        assert match, f"constraints.txt: {line!r} is not an exact pin (name==version)"
        name = canonicalize_name(match[1])
        assert name not in found, f"constraints.txt pins {match[1]} twice"
        found[name] = match[2]
    return found


def test_constraints_pin_every_dependency_inside_its_range():
    """constraints.txt pins every dependency and test extra to a version pyproject.toml and environment.yml allow."""
    pinned = pins()
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [Requirement(d) for d in environment["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    for requirement in declared() + conda:
        name = canonicalize_name(CONDA_TO_PYPI.get(requirement.name, requirement.name))
        assert name in pinned, f"constraints.txt has no pin for {requirement.name}: run python3 course.py lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {requirement.name}=={pinned[name]}, outside {requirement}: run python3 course.py lock"
        )


def test_constraints_pin_the_whole_environment_but_not_the_course():
    """constraints.txt pins what the dependencies bring too (as pip freeze lists it), and not the course itself."""
    pinned = pins()
    assert "fastapi-websocket-lessons" not in pinned
    # A few of the packages the lessons run on without naming them: FastAPI's, Pydantic's, uvicorn's.
    for brought in ("starlette", "pydantic-core", "anyio", "h11"):
        assert brought in pinned, f"constraints.txt does not pin {brought}: regenerate it with python3 course.py lock"


def test_install_pins_with_the_constraints_and_reinstalls_when_they_change(tmp_path, monkeypatch):
    """course.py installs with pip -c constraints.txt, and installs again when constraints.txt changes."""
    course = load_course()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("fastapi==0.115.0\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()  # a venv that exists, so none is created
    commands = []
    for name, value in [("ROOT", tmp_path), ("VENV", python.parent.parent), ("PYTHON", python), ("CONSTRAINTS", constraints)]:
        monkeypatch.setattr(course, name, value)
    monkeypatch.setattr(course, "run", lambda command: commands.append([str(part) for part in command]))
    monkeypatch.setattr(course, "say", lambda message: None)

    course.install("test")
    assert len(commands) == 1
    pip = commands[0]
    assert pip[pip.index("-c") + 1] == "constraints.txt" and pip[-2:] == ["-e", ".[test]"]
    course.install("test")
    assert len(commands) == 1, "installed again although nothing changed"
    constraints.write_text("fastapi==0.165.0\n")
    course.install("test")
    assert len(commands) == 2, "not installed again after constraints.txt changed"


def load_floors():
    """scripts/floors.py as a module."""
    spec = importlib.util.spec_from_file_location("floors", ROOT / "scripts" / "floors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floors_pin_every_dependency_to_the_lowest_version_it_allows(tmp_path):
    """scripts/floors.py pins each dependency and test extra to its floor, and refuses one without a floor."""
    floors = load_floors().floors()
    requirements = declared()
    assert len(floors) == len(requirements)
    for pin, requirement in zip(floors, requirements):
        name, floor = pin.split("==")
        assert canonicalize_name(name) == canonicalize_name(requirement.name)
        assert requirement.specifier.contains(floor)
        assert f">={floor}" in str(requirement.specifier)
    unbounded = tmp_path / "pyproject.toml"
    unbounded.write_text('[project]\ndependencies = ["fastapi<1"]\n[project.optional-dependencies]\ntest = []\n')
    with pytest.raises(ValueError, match="floor"):
        load_floors().floors(unbounded)


def environment_check() -> str:
    """The code of the environment check cell in notebooks/00_start_here.ipynb."""
    notebook = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())
    [cell] = [c for c in notebook["cells"] if c.get("id") == "start-05"]
    return "".join(cell["source"])


def run_environment_check(**proxy_settings: str) -> subprocess.CompletedProcess:
    """Run the environment check as a script, with no proxy settings but ``proxy_settings``."""
    env = {name: value for name, value in os.environ.items() if not name.lower().endswith("_proxy")}
    env.update(proxy_settings)
    return subprocess.run(
        [sys.executable, "-c", environment_check()], cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=60
    )


def test_environment_check_passes_and_names_what_the_lessons_rely_on():
    """The environment check prints every declared library with its floor, uvicorn's implementation, and four ✓ lines."""
    run = run_environment_check()
    assert run.returncode == 0, run.stderr[-2000:]
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in map(Requirement, dependencies):
        assert re.search(rf"^{re.escape(requirement.name)}\s+\S+\s+\(the course needs", run.stdout, re.MULTILINE)
    assert "✓ uvicorn serves WebSockets with websockets-sansio" in run.stdout
    assert run.stdout.count("✓") == 4, run.stdout


def test_environment_check_tells_a_learner_behind_a_proxy_what_to_do():
    """Behind a proxy that does not exempt 127.0.0.1, the check fails and says to set NO_PROXY, without the proxy's password."""
    run = run_environment_check(HTTPS_PROXY="http://learner:s3cret@proxy.invalid:3128")
    assert run.returncode != 0
    assert "✗" in run.stdout and "NO_PROXY=127.0.0.1,localhost" in run.stdout and "proxy=None" in run.stdout
    assert "s3cret" not in run.stdout + run.stderr
    exempt = run_environment_check(HTTPS_PROXY="http://proxy.invalid:3128", NO_PROXY="127.0.0.1,localhost")
    assert exempt.returncode == 0, exempt.stdout[-2000:] + exempt.stderr[-2000:]
    assert "✓ no proxy between the client and servers on 127.0.0.1" in exempt.stdout


# -- CI for whoever forks the course -------------------------------------------------


def readme_test_command() -> str:
    """The test command of the README's "Two commands", without its comment."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Two commands", 1)[1].split("\n## ", 1)[0]
    [command] = re.findall(r"^(python3 course\.py test)\b", section, re.MULTILINE)
    return command


def test_ci_workflow_runs_the_readmes_test_command_on_each_supported_python():
    """.github/workflows/tests.yml runs the README's test command and no other course.py command, on Python 3.11 to 3.13."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    [(name, job)] = workflow["jobs"].items()
    assert job["runs-on"] == "ubuntu-latest"
    matrix = job["strategy"]["matrix"]
    [setup] = [step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@")]
    [key] = re.fullmatch(r"\$\{\{ matrix\.([\w-]+) \}\}", setup["with"]["python-version"]).groups()
    assert matrix[key] == ["3.11", "3.12", "3.13"], f"{matrix[key]!r}: each version quoted (YAML reads 3.10 as 3.1)"
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert floor == f">={matrix[key][0]}", "the oldest Python tested is the oldest the course allows"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    course_lines = [line.strip() for script in runs for line in script.splitlines() if "course.py" in line]
    assert course_lines == [readme_test_command()]
    # Chromium comes first, so that the browser tests run rather than fail.
    steps = job["steps"]
    chromium = next(i for i, step in enumerate(steps) if "chromium" in step.get("run", ""))
    test = next(i for i, step in enumerate(steps) if course_lines[0] in step.get("run", ""))
    assert steps.index(setup) < chromium < test
