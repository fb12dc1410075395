"""The set-up: environment.yml, the command lines, and the lab command."""

import os
import re
from contextlib import contextmanager
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

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
        process.terminate()
        process.wait(timeout=30)


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
