"""The lessons in JupyterLab, as a learner meets them: python3 course.py lab, a real browser, the menus.

JupyterLab runs on temporary copies of notebooks/ and exercises/, never on
the repository's own files: JupyterLab saves open notebooks by itself
(every two minutes), and a test that ran every cell would otherwise write
outputs into notebooks that are stored without them. course.py lab always
passes ``--ServerApp.root_dir=<the repository>`` and JupyterLab refuses the
same option twice, so the test points JupyterLab's file manager
(``--ContentsManager.root_dir``) and its kernels' working folders
(``--MappingKernelManager.root_dir``) at the copies instead. Its settings,
runtime files and the kernels' IPython history go to the same temporary
folder, which is removed with everything in it when the test ends.

The browser is Debian's chromium (``/usr/bin/chromium``) driven by
Playwright. Where either is missing the tests are skipped, saying which;
under CI (``CI`` set) they fail instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import free_port, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
#: How long a state of the page may take to come: generous, the machine may be busy.
UI_WAIT_MS = 60_000
#: How long a notebook's cells may take to run, all of them.
RUN_WAIT_MS = 90_000

pytestmark = pytest.mark.slow


# -- JupyterLab through course.py lab ------------------------------------------------


@dataclass
class Lab:
    """A running JupyterLab: its address and token, and the folder it serves."""

    url: str
    token: str
    root: Path
    log: Path

    def address(self, path: str) -> str:
        """The address of ``path`` in the lab (a notebook opens at lab/tree/<path>), signed in with the token."""
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def venv_is_current() -> bool:
    """Whether course.py would start JupyterLab at once, without installing anything first.

    The same test as course.py's ``install()``: the stamp it leaves in .venv
    holds a digest of pyproject.toml and constraints.txt. A reinstall in the
    middle of a test run would change the environment under the other tests.
    """
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()).hexdigest()
    stamps = [ROOT / ".venv" / f".installed-{name}" for name in ("lab", "test")]
    return any(stamp.exists() and stamp.read_text() == digest for stamp in stamps)


def settings(config: Path) -> None:
    """Lab settings for the test: no news or update checks (they go on the network and pop up a toast)."""
    folder = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True)
    (folder / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def lab_command(port: int, token: str, root: Path) -> list[str]:
    """The README's command, with the options a test needs: a free port, a token, the copies as its files."""
    return [
        sys.executable,
        str(ROOT / "course.py"),
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ContentsManager.root_dir={root}",
        f"--MappingKernelManager.root_dir={root}",
    ]


@pytest.fixture(scope="module")
def lab(browser: object) -> Iterator[Lab]:
    """python3 course.py lab --no-browser, as the README says, on temporary copies of the notebooks.

    Depends on the browser fixture so that nothing is started where the
    browser tests are skipped anyway.
    """
    if not venv_is_current():
        pytest.skip("pyproject.toml or constraints.txt changed since .venv was installed: run python3 course.py test")
    folder = Path(tempfile.mkdtemp(prefix="course-lab-"))
    try:
        root = folder / "course"
        for name in ("notebooks", "exercises"):
            shutil.copytree(ROOT / name, root / name)
        settings(folder / "config")
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(folder / "config"),
            JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
            IPYTHONDIR=str(folder / "ipython"),
        )
        port, token = free_port(), secrets.token_hex(16)
        log = folder / "lab.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                lab_command(port, token, root),
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            running = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
            wait_for_port(port, process, deadline=120, output=running.log_tail)
            assert "[course] starting JupyterLab" in log.read_text(), log.read_text()
            yield running
        finally:
            # course.py lab has become JupyterLab (os.execv): SIGTERM shuts its kernels down.
            stop_process(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- a notebook in the browser -----------------------------------------------------

#: The notebook shown in the main area (others may be open in hidden tabs).
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"

#: In the page: the state of every code cell's prompt, and the kernel's status.
CELLS_STATE = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const prompts = [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  return {prompts, kernel: indicator ? indicator.getAttribute('data-status') : null};
}
"""

#: In the page: each cell of the notebook, in order, with its kind and the text of each of its outputs.
CELLS = """
() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')].map(cell => ({
  code: cell.classList.contains('jp-CodeCell'),
  prompt: cell.querySelector('.jp-CodeCell .jp-InputArea-prompt')?.textContent.trim() ?? null,
  collapsed: cell.querySelector('.jp-InputPlaceholder') !== null,
  outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(output => ({
    mime: output.getAttribute('data-mime-type'),
    text: output.textContent,
  })),
}))
"""


def open_notebook(context: object, lab: Lab, path: str) -> object:
    """Open ``path`` in JupyterLab in a new tab; return the page once its kernel is idle."""
    page = context.new_page()
    page.set_default_timeout(UI_WAIT_MS)
    page.goto(lab.address(path))
    page.locator(f"{NOTEBOOK} .jp-Notebook .jp-Cell").first.wait_for()
    # The indicator says idle before the notebook has a kernel too ("No Kernel" in the toolbar).
    page.wait_for_function(
        """() => {
          const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
          const kernel = panel && panel.querySelector('.jp-Toolbar-kernelName');
          const indicator = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
          return kernel && indicator && !['', 'No Kernel'].includes(kernel.textContent.trim())
            && indicator.getAttribute('data-status') === 'idle';
        }""",
        polling=100,
    )
    return page


def choose(page: object, menu: str, item: str) -> None:
    """Click ``menu`` in the menu bar, then its entry ``item``, as a learner would."""
    page.locator("#jp-MainMenu .lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu:visible .lm-Menu-item", has_text=re.compile(rf"^{re.escape(item)}")).click()


def wait_until_run(page: object) -> list[dict]:
    """Wait for the run just started to end (no cell queued or running, the kernel idle); return the cells."""
    # The run has begun once a cell is queued ([*]); it may be over before the first poll.
    page.wait_for_function(
        f"""() => {{
          const state = ({CELLS_STATE})();
          return state && (state.prompts.includes('[*]:') || state.prompts.every(p => /^\\[\\d+\\]:$/.test(p)));
        }}""",
        timeout=UI_WAIT_MS,
    )
    page.wait_for_function(
        f"""() => {{
          const state = ({CELLS_STATE})();
          return state && !state.prompts.includes('[*]:') && state.kernel === 'idle';
        }}""",
        timeout=RUN_WAIT_MS,
        polling=250,
    )
    return page.evaluate(CELLS)


def stored_cells(lab: Lab, path: str) -> list[dict]:
    """The cells of a notebook as the lab's copy of it was stored."""
    return json.loads((lab.root / path).read_text(encoding="utf-8"))["cells"]


def not_run(cells: list[dict]) -> list[str]:
    """The code cells that show no sign of having run.

    A cell shows its execution count in its prompt ('[ ]:' never ran, '[*]:'
    never finished); a cell whose code is folded away (a check cell) shows no
    prompt, and must show its output instead.
    """
    found = []
    for index, cell in enumerate(cells):
        if not cell["code"]:
            continue
        if cell["collapsed"] and cell["prompt"] is None:
            if not cell["outputs"]:
                found.append(f"cell {index}: folded, and no output")
        elif not re.fullmatch(r"\[\d+\]:", cell["prompt"] or ""):
            found.append(f"cell {index}: {cell['prompt']}")
    return found


#: In the page: how the first mermaid diagram of the notebook came out. JupyterLab 4's
#: mermaid renderer draws an SVG image; the source stays in the page, hidden (shown
#: with a warning instead of a drawing when mermaid cannot read it).
DIAGRAM = """
() => {
  const figure = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell .jp-RenderedMermaid');
  const img = figure.querySelector('img');
  const svg = img.src.startsWith('data:image/svg+xml,') ? decodeURIComponent(img.src.slice(img.src.indexOf(',') + 1)) : '';
  const kind = svg.match(/aria-roledescription="[^"]*"/);
  const source = figure.querySelector('pre');
  return {
    warning: figure.classList.contains('jp-mod-warning'),
    drawn: img.complete && img.naturalWidth > 0 && svg.includes('<svg') && svg.includes('Switching Protocols'),
    kind: kind && kind[0],
    source_shown: source !== null && source.checkVisibility(),
  };
}
"""

#: A line of a cell's output that a traceback or a server's log printed. The walkthrough
#: shows what its servers logged on purpose, one line per record after "server log:".
LEAKS = re.compile(
    r"^(Traceback \(most recent call last\)|Exception in ASGI application|(DEBUG|INFO|WARNING|ERROR|CRITICAL):"
    r"|.*(Uvicorn running on|Application startup complete|Started server process|Waiting for application))",
    re.MULTILINE,
)


@pytest.mark.timeout(180)
def test_walkthrough_runs_every_cell_from_the_run_menu(browser, lab):
    """Run → Run All Cells runs every cell of lesson 1's walkthrough: a drawn diagram, no traceback, no server log."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = open_notebook(context, lab, "notebooks/01_text.ipynb")
        # The message flow is drawn by JupyterLab's mermaid renderer, not shown as its source.
        page.locator(f"{NOTEBOOK} .jp-MarkdownCell .jp-RenderedMermaid img").first.wait_for()
        assert page.evaluate(DIAGRAM) == {
            "warning": False,
            "drawn": True,
            "kind": 'aria-roledescription="sequence"',
            "source_shown": False,
        }

        choose(page, "Run", "Run All Cells")
        cells = wait_until_run(page)
        assert len(cells) == len(stored_cells(lab, "notebooks/01_text.ipynb"))
        assert not_run(cells) == [], f"cells that did not run:\n{lab.log_tail()}"
        for index, cell in enumerate(cells):
            for output in cell["outputs"]:
                where = f"cell {index}, {output['mime']}: {output['text'][:2000]}"
                assert output["mime"] not in ("application/vnd.jupyter.stderr", "application/vnd.jupyter.error"), where
                assert not LEAKS.search(output["text"]), where
    finally:
        context.close()


@pytest.mark.timeout(180)
def test_rerunning_the_walkthroughs_server_cell_after_an_edit_serves_the_new_code(browser, lab):
    """Change the reply in the walkthrough's inline server cell, run the cell again: the new reply comes back."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = open_notebook(context, lab, "notebooks/01_text.ipynb")
        [index] = [i for i, cell in enumerate(stored_cells(lab, "notebooks/01_text.ipynb")) if cell.get("id") == "text-05b"]
        cell = page.locator(f"{NOTEBOOK} .jp-Notebook .jp-Cell").nth(index)
        reply_line = cell.locator(".cm-line", has_text="await websocket.send_text(repr(message))")

        def run_cell() -> str:
            """Run the cell with Shift+Enter; return its output once the kernel is idle again."""
            before = cell.locator(".jp-InputArea-prompt").text_content().strip()
            cell.locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            page.wait_for_function(
                f"""() => {{
                  const cell = document.querySelectorAll('{NOTEBOOK} .jp-Notebook .jp-Cell')[{index}];
                  const prompt = cell.querySelector('.jp-InputArea-prompt').textContent.trim();
                  const state = ({CELLS_STATE})();
                  return /^\\[\\d+\\]:$/.test(prompt) && prompt !== {json.dumps(before)} && state.kernel === 'idle';
                }}""",
                timeout=RUN_WAIT_MS,
                polling=250,
            )
            return cell.locator(".jp-OutputArea").text_content()

        # First the whole walkthrough, as a learner would have it by then.
        choose(page, "Run", "Run All Cells")
        wait_until_run(page)
        first = cell.locator(".jp-OutputArea").text_content()
        assert "{'type': 'websocket.receive', 'text': 'hello'}" in first, first
        assert "(edited)" not in first

        # Type the change as a learner would: at the end of the line, inside send_text(...).
        reply_line.click()
        page.keyboard.press("End")
        page.keyboard.press("ArrowLeft")
        page.keyboard.insert_text(' + " (edited)"')
        cell.locator(".cm-line", has_text='send_text(repr(message) + " (edited)")').wait_for()

        second = run_cell()
        replies = [line for line in second.splitlines() if line.startswith("{'type': 'websocket.receive'")]
        assert replies == [
            "{'type': 'websocket.receive', 'text': 'hello'} (edited)",
            "{'type': 'websocket.receive', 'bytes': b'\\x00\\x01'} (edited)",
        ], second
        assert not LEAKS.search(second), second
    finally:
        context.close()


@pytest.mark.timeout(180)
def test_exercise_checks_each_say_not_written_yet_after_restart_and_run_all(browser, lab):
    """Kernel → Restart Kernel and Run All Cells on lesson 1's exercises: each check says in one ✗ line what is not written."""
    stored = stored_cells(lab, "exercises/01_text.ipynb")
    checks = [index for index, cell in enumerate(stored) if "checks" in cell.get("metadata", {})]
    assert len(checks) == 5
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = open_notebook(context, lab, "exercises/01_text.ipynb")
        choose(page, "Kernel", "Restart Kernel and Run All Cells")
        page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
        cells = wait_until_run(page)
        assert len(cells) == len(stored)
        assert not_run(cells) == [], f"cells that did not run:\n{lab.log_tail()}"
        for number, index in enumerate(checks, start=1):
            text = "\n".join(output["text"] for output in cells[index]["outputs"])
            verdicts = [line for line in text.splitlines() if line.startswith("✗")]
            assert len(verdicts) == 1, f"exercise {number}'s check printed {text!r}"
            assert "not written yet" in verdicts[0] and f"hint({number})" in verdicts[0], verdicts[0]
            assert "Traceback" not in text, text
    finally:
        context.close()
