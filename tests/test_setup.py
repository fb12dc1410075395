"""The set-up: environment.yml, the command lines, and the lab command."""

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest
import yaml
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent


def normalise(requirement: str) -> str:
    """'Nest_Asyncio >= 1.6' -> 'nest-asyncio>=1.6'."""
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + spec.replace(" ", "")


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on port {port} after {deadline} s")


@contextmanager
def running(*args: str, port: int, deadline: float = 60, env: dict | None = None):
    """Run a command in the background until the block ends; yield once port answers."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_port(port, process, deadline)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen, grace: float = 30) -> None:
    """Ask a process to stop, kill it after ``grace`` seconds, and kill anything it started that is left."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    finally:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    left = [child for child in family if child.is_running()]
    for child in left:
        with suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(left, timeout=10)


@pytest.mark.parametrize(
    ("module", "path", "message", "expected"),
    [
        ("server.text", "/ws/chat", "hi", "Server received: hi"),
        ("server.json_messages", "/ws/json-demo", "{", '"code":"invalid_json"'),
        ("server.timeout", "/ws/with-timeout", "hi", '{"type":"echo","data":"hi"}'),
        ("server.mixed", "/ws/mixed", "hi", "text:hi"),
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
