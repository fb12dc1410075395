"""Run the Autobahn WebSocket testsuite against ``server.echo`` on each uvicorn implementation.

Run from the repository root (or ``python3 course.py conformance``)::

    python -m benchmarks.conformance                          # every implementation, default cases
    python -m benchmarks.conformance --ws wsproto --cases '5.*' --cases 7.1.5
    python -m benchmarks.conformance --all                    # the slow compression cases too
    python -m benchmarks.conformance --report-dir /tmp/ab     # keep Autobahn's HTML report

Autobahn's fuzzing client (``wstest -m fuzzingclient``) is Python 2 code.
The first run builds it a Python 2.7 virtualenv in ``.autobahn/`` (ignored
by git) with ``virtualenv==20.21.1``, the last virtualenv that creates
Python 2 environments, and the pinned releases in ``SUITE_PINS``; later
runs reuse it. Then, for each of uvicorn's WebSocket implementations, it
serves ``server.echo.app`` with ``BackgroundServer`` on 127.0.0.1, as the
lessons serve their apps, points the fuzzing client at ``/ws/echo``, and
reads the client's ``index.json``.

What happens in each outcome:

* Each implementation gets a table of case counts per group (the case's
  first number) and verdict; then each NON-STRICT case in a line (what
  came back, what the suite wanted); each FAILED case in full (what the
  suite sent, expected and saw), marked with its explanation when it is on
  the explained list (``EXPLAINED``; ``docs/conformance.md`` tells the
  whole story); then what the server logged at WARNING and above.
* Exit 0 when every failing case is explained, 1 when one is not, 2 when
  the suite cannot run (no Python 2.7, a failed install, a crashed client).
* No Python 2.7 interpreter: exit 2, saying what to install.
* Ctrl+C (or SIGTERM) stops the fuzzing client and the server, removes the
  temporary folder and exits 130; nothing is left running.

By default the compression cases with 64 KiB and 128 KiB messages are left
out (``SLOW_CASES``, 84 cases): each sends a thousand such messages through
permessage-deflate both ways, and together they take four fifths of the
suite's time (six to seven minutes per implementation on a 2-core
machine, where the default run takes about four minutes for all three);
the smaller sizes of the same cases run the same code. ``--all`` runs them.
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import glob
import html
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".autobahn"
PY27_ENV = CACHE / "py27"
WSTEST = PY27_ENV / "bin" / "wstest"
VIRTUALENV = "virtualenv==20.21.1"

#: The testsuite and every package it pulls in, pinned to releases that
#: install and run on Python 2.7 (what pip resolved in November 2026).
SUITE_PINS = [
    "autobahntestsuite==0.8.2",
    "autobahn==0.10.9",
    "Twisted==20.3.0",
    "txaio==2.1.0",
    "wsaccel==0.6.6",
    "ujson==2.0.3",
    "zope.interface==5.5.2",
    "PyHamcrest==1.10.1",
    "incremental==22.10.0",
    "attrs==21.4.0",
    "idna==2.10",
    "typing==3.10.0.0",
    "hyperlink==21.0.0",
    "constantly==15.1.0",
    "Automat==22.10.0",
    "six==1.17.0",
    "enum34==1.1.10",
    "Werkzeug==1.0.1",
    "Tubes==0.2.1",
    "klein==20.6.0",
    "pyasn1==0.5.1",
    "pyasn1-modules==0.3.0",
    "ipaddress==1.0.23",
    "pycparser==2.21",
    "cffi==1.15.1",
    "cryptography==3.3.2",
    "service-identity==21.1.0",
    "MarkupSafe==1.1.1",
    "pyOpenSSL==21.0.0",
    "linecache2==1.0.0",
    "traceback2==1.4.0",
    "argparse==1.4.0",
    "unittest2==1.1.0",
    "Jinja2==2.11.3",
]

#: uvicorn's WebSocket implementations, as ``--ws`` names them.
IMPLEMENTATIONS = ["websockets-sansio", "websockets", "wsproto"]

GROUPS = {
    1: "Framing",
    2: "Pings/Pongs",
    3: "Reserved bits",
    4: "Opcodes",
    5: "Fragmentation",
    6: "UTF-8 handling",
    7: "Close handling",
    9: "Limits/Performance",
    10: "Misc",
    12: "Compression",
    13: "Compression parameters",
}

VERDICTS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]

# Cases 12.x.y and 13.x.y each send 1000 messages of one size; y = 9, 10
# and 14 to 18 are the 64 KiB and 128 KiB ones (MSG_SIZES in the suite's
# case/case12_x_x.py).
SLOW_CASES = [
    f"{group}.{sub}.{size}"
    for group, subgroups in ((12, 5), (13, 7))
    for sub in range(1, subgroups + 1)
    for size in (9, 10, 14, 15, 16, 17, 18)
]


@dataclass(frozen=True)
class Explained:
    """A known failing outcome: which cases, on which implementations, and why."""

    cases: str  # a case id or an fnmatch pattern ("9.3.[123]")
    impls: tuple[str, ...]
    why: str

    def covers(self, impl: str, case: str) -> bool:
        return impl in self.impls and fnmatch.fnmatchcase(case, self.cases)


#: Failing outcomes of today's stack that are understood. Each has a
#: section in docs/conformance.md with the source lines behind it.
EXPLAINED = [
    Explained(
        "7.1.5",
        ("websockets-sansio",),
        "websockets' protocol core fails a connection with 1002 when a close frame arrives "
        "in the middle of a fragmented message (websockets/protocol.py, 'incomplete fragmented message')",
    ),
    Explained(
        "9.[34].[123]",
        ("websockets",),
        "websockets' legacy protocol caps a fragmented message at 4096 frames and closes with 1009 "
        "'too many fragments' (websockets/legacy/protocol.py, MAX_FRAGMENTS)",
    ),
]


@dataclass
class Case:
    """One case's result, from index.json and the case's own report."""

    id: str
    behavior: str
    behavior_close: str
    report: dict

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.id.split("."))

    @property
    def group(self) -> int:
        return self.key[0]

    @property
    def verdict(self) -> str:
        """One verdict from the suite's two: the messages seen, and the close."""
        if self.behavior in ("UNIMPLEMENTED", "INFORMATIONAL"):
            return self.behavior
        # A wrong close code or an unclean close breaks a MUST of RFC 6455
        # as much as a wrong message does.
        if self.behavior not in ("OK", "NON-STRICT") or self.behavior_close in ("FAILED", "UNCLEAN", "WRONG CODE"):
            return "FAILED"
        # "FAILED BY CLIENT": the client had to drop the TCP connection,
        # which the RFC says the server SHOULD do.
        if self.behavior == "NON-STRICT" or self.behavior_close == "FAILED BY CLIENT":
            return "NON-STRICT"
        return "OK"


class SuiteUnavailable(RuntimeError):
    """The testsuite cannot be installed or run here; the message says why."""


# -- the Python 2.7 environment ---------------------------------------------------


def find_python27() -> str:
    """The path of a Python 2.7 interpreter: pyenv's first, then python2.7 on PATH."""
    roots = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            roots.append(subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=10).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    roots += [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    for root in filter(None, roots):
        for candidate in sorted(glob.glob(os.path.join(root, "versions", "2.7.*", "bin", "python2.7")), reverse=True):
            if os.access(candidate, os.X_OK):
                return candidate
    on_path = shutil.which("python2.7")
    if on_path:
        return on_path
    raise SuiteUnavailable(
        "Autobahn's testsuite is Python 2 code, and no Python 2.7 was found "
        "(looked in pyenv's versions/2.7.* and for python2.7 on PATH). Install one, "
        "for example with `pyenv install 2.7.18`, and run this again."
    )


def ensure_suite() -> Path:
    """Build the Python 2.7 virtualenv with wstest in .autobahn/ unless it is there; return wstest's path."""
    stamp = CACHE / "installed"
    wanted = "\n".join([VIRTUALENV, *SUITE_PINS]) + "\n"
    if WSTEST.exists() and stamp.exists() and stamp.read_text() == wanted:
        return WSTEST
    python27 = find_python27()
    say(f"building the testsuite's Python 2.7 environment in {CACHE.relative_to(ROOT)}/ (once, about a minute)")
    shutil.rmtree(PY27_ENV, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    CACHE.mkdir(exist_ok=True)
    # virtualenv goes into a folder of its own, not the course's .venv: only
    # this command needs it, and only this old release.
    tools = CACHE / "virtualenv"
    quiet = ["--quiet", "--disable-pip-version-check"]
    _check([sys.executable, "-m", "pip", "install", *quiet, "--upgrade", "--target", tools, VIRTUALENV])
    _check(
        [sys.executable, "-m", "virtualenv", "--quiet", "--app-data", CACHE / "app-data", "--python", python27, PY27_ENV],
        env={**os.environ, "PYTHONPATH": str(tools)},
    )
    constraints = CACHE / "constraints.txt"
    constraints.write_text("\n".join(SUITE_PINS) + "\n")
    _check([PY27_ENV / "bin" / "python", "-m", "pip", "install", *quiet, "-c", constraints, SUITE_PINS[0]])
    stamp.write_text(wanted)
    return WSTEST


def _check(command: list, env: dict | None = None) -> None:
    """Run an install step; raise SuiteUnavailable with the end of its output if it fails."""
    done = subprocess.run([str(part) for part in command], env=env, capture_output=True, text=True)
    if done.returncode:
        output = (done.stdout + done.stderr).strip().splitlines()
        raise SuiteUnavailable(f"{' '.join(map(str, command[:5]))} ... failed:\n" + "\n".join(output[-20:]))


# -- one run against one implementation -----------------------------------------


def run_suite(wstest: Path, impl: str, cases: list[str], exclude: list[str], workdir: Path) -> dict[str, Case]:
    """Serve the echo app on ``impl``, run the fuzzing client against it, return its cases by id."""
    from server import echo
    from server.background import BackgroundServer

    outdir = workdir / "reports"
    server = BackgroundServer(echo.app, ws=impl, name=f"conformance {impl}").start()
    try:
        spec = {
            "outdir": str(outdir),
            "servers": [{"agent": impl, "url": server.ws_url("/ws/echo")}],
            "cases": cases,
            "exclude-cases": exclude,
            "exclude-agent-cases": {},
        }
        spec_file = workdir / f"{impl}.json"
        spec_file.write_text(json.dumps(spec, indent=2))
        _run_wstest(wstest, spec_file, impl, workdir, cases)
    finally:
        server.stop()
    index = json.loads((outdir / "index.json").read_text())
    results = {}
    for case_id, entry in index.get(impl, {}).items():
        report = json.loads((outdir / entry["reportfile"]).read_text())
        results[case_id] = Case(case_id, entry["behavior"], entry["behaviorClose"], report)
    return results


def _run_wstest(wstest: Path, spec_file: Path, impl: str, workdir: Path, cases: list[str]) -> None:
    """Run wstest to the end, showing which case it is on; never leave it running."""
    log: list[str] = []
    total = "?"
    done = 0
    live = sys.stdout.isatty()
    # A session of its own: Ctrl+C reaches this process only, which then
    # stops the client itself, before it stops the server.
    process = subprocess.Popen(
        [str(wstest), "-m", "fuzzingclient", "-s", str(spec_file)],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in process.stdout:
            log.append(line)
            if match := re.search(r"will run (\d+) test cases", line):
                total = match.group(1)
                if total == "0":
                    # wstest would wait for ever with nothing to do.
                    raise SuiteUnavailable(f"no case to run: {' '.join(cases)} matches none, or only slow ones (see --all)")
            elif match := re.match(r"Running test case ID (\S+)", line):
                done += 1
                if live:
                    print(f"\r  {impl}: case {match.group(1):<8} {done}/{total}  ", end="", flush=True)
        process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        if live:
            print("\r" + " " * 60 + "\r", end="", flush=True)
    if process.returncode:
        raise SuiteUnavailable(f"wstest exited with {process.returncode}:\n" + "".join(log[-20:]))


class _Collect(logging.Handler):
    """Count what the server logs, by logger, level, message and exception."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        exc = f" ({record.exc_info[0].__name__})" if record.exc_info and record.exc_info[0] else ""
        self.counts[f"{record.levelname} {record.name}: {record.getMessage()}{exc}"] += 1


@contextmanager
def collected_logs() -> Iterator[_Collect]:
    """Collect the server's log records instead of printing them one traceback at a time."""
    root = logging.getLogger()
    handler = _Collect()
    # With a handler on the root logger, Python's last-resort stderr handler stays quiet.
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# -- the report -------------------------------------------------------------------


def explanation(impl: str, case: Case) -> Explained | None:
    """The explained-list entry that covers this case on this implementation, if any."""
    return next((known for known in EXPLAINED if known.covers(impl, case.id)), None)


def table(impl: str, results: dict[str, Case]) -> str:
    """Per-group counts of each verdict, as a plain-text table."""
    counts: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    for case in results.values():
        counts[case.group][case.verdict] += 1
    columns = "".join(f"{verdict:>15}" for verdict in VERDICTS)
    lines = [f"{impl}: {_cases(len(results))}", f"{'group':<26}{columns}{'total':>7}"]
    total: collections.Counter = collections.Counter()
    for group in sorted(counts):
        total.update(counts[group])
        name = f"{group} {GROUPS.get(group, '')}"
        cells = "".join(f"{counts[group][verdict]:>15}" for verdict in VERDICTS)
        lines.append(f"{name:<26}{cells}{sum(counts[group].values()):>7}")
    cells = "".join(f"{total[verdict]:>15}" for verdict in VERDICTS)
    lines.append(f"{'all':<26}{cells}{sum(total.values()):>7}")
    return "\n".join(lines)


def _cases(count: int) -> str:
    return f"{count} case" + ("" if count == 1 else "s")


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text or "")).split())


def _events(events: list) -> str:
    """A list of the suite's events, short: message kinds and sizes, pings, pongs, timeouts."""
    if not events:
        return "nothing"
    parts = []
    for event in events:
        kind = event[0]
        if kind == "message":
            parts.append(f"{'binary' if event[2] else 'text'} message of {len(event[1])} bytes")
        elif kind in ("ping", "pong"):
            parts.append(f"{kind} of {len(event[1])} bytes")
        else:
            parts.append(kind)
    return ", ".join(parts)


def _outcome(report: dict) -> str:
    """What came back in a case, and what the suite wanted: events and close code."""
    code, reason = report.get("remoteCloseCode"), report.get("remoteCloseReason")
    closed = f"close code {code}" + (f" {reason!r}" if reason else "") if code is not None else "no close frame"
    codes = " or ".join(map(str, report.get("expectedClose", {}).get("closeCode", [])))
    wanted = (report.get("expected") or {}).get("OK")
    if wanted is None:
        return f"the server sent {closed}; wanted close code {codes}"
    got = _events(report.get("received") or [])
    return f"received {got}, then {closed}; wanted {_events(wanted)}, then close code {codes}"


def describe(impl: str, case: Case) -> str:
    """A failed case in full (sent, expected, actual); any other in one line."""
    report = case.report
    if case.verdict != "FAILED":
        return f"  {case.id:<8} {case.verdict:<13} {_outcome(report)}"
    known = explanation(impl, case)
    mark = f"explained: {known.why}" if known else "NOT EXPLAINED"
    result, result_close = _plain(report.get("result")), _plain(report.get("resultClose"))
    return "\n".join(
        [
            f"  {case.id:<8} FAILED        (messages {case.behavior}, close {case.behavior_close})",
            f"    [{mark}]",
            f"    sent:     {_plain(report.get('description'))}",
            f"    expected: {_plain(report.get('expectation'))}",
            f"    actual:   {result}" + (f" {result_close}." if result_close != result else "."),
            f"              {_outcome(report)}",
        ]
    )


def report(impl: str, results: dict[str, Case], logs: collections.Counter, seconds: float) -> list[Case]:
    """Print one implementation's table, its cases that are not OK and its log; return unexplained failures."""
    print(table(impl, results))
    print(f"({seconds:.0f} s)")
    for verdict, title in (("NON-STRICT", " (conformant, but not what a server SHOULD do)"), ("FAILED", "")):
        cases = sorted((c for c in results.values() if c.verdict == verdict), key=lambda c: c.key)
        if cases:
            print(f"{verdict}{title}:")
            for case in cases:
                print(describe(impl, case))
    unimplemented = sorted((c for c in results.values() if c.verdict == "UNIMPLEMENTED"), key=lambda c: c.key)
    if unimplemented:
        groups = sorted({c.group for c in unimplemented})
        print(
            f"UNIMPLEMENTED: {_cases(len(unimplemented))} of group {', '.join(map(str, groups))} "
            "(the server declined the extension they test; see docs/conformance.md)"
        )
    for known in EXPLAINED:
        if impl in known.impls and not any(known.covers(impl, c.id) and c.verdict == "FAILED" for c in results.values()):
            if any(fnmatch.fnmatchcase(c, known.cases) for c in results):
                print(f"note: explained cases {known.cases} did not fail this time")
    if logs:
        print("the server logged:")
        for message, count in logs.most_common():
            print(f"  {count:>4} x {message}")
    print(flush=True)
    return [c for c in results.values() if c.verdict == "FAILED" and explanation(impl, c) is None]


def say(message: str) -> None:
    print(f"[conformance] {message}", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# -- the command ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ws", action="append", choices=IMPLEMENTATIONS, help="an implementation to test (repeat for more; default: all)"
    )
    parser.add_argument(
        "--cases", action="append", metavar="PATTERN", help="case ids or patterns such as '7.*' (repeat for more; default: all)"
    )
    parser.add_argument("--all", action="store_true", help="include the slow compression cases (SLOW_CASES)")
    parser.add_argument(
        "--report-dir", type=Path, help="copy Autobahn's HTML and JSON report here, one folder per implementation"
    )
    args = parser.parse_args(argv)
    impls = args.ws or IMPLEMENTATIONS
    cases = args.cases or ["*"]
    exclude = [] if args.all else SLOW_CASES

    # SIGTERM (a CI timeout, say) cleans up as Ctrl+C does.
    signal.signal(signal.SIGTERM, _interrupt)
    # uvicorn warns on every connection that its "websockets" implementation
    # is deprecated; testing it is the point.
    warnings.filterwarnings("ignore", message="The `websockets` implementation is deprecated")
    workdir = Path(tempfile.mkdtemp(prefix="autobahn-"))
    unexplained: list[tuple[str, Case]] = []
    try:
        wstest = ensure_suite()
        versions = {name: _version(name) for name in ("uvicorn", "websockets", "wsproto", "fastapi")}
        say(f"{date.today()}, " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ", autobahntestsuite 0.8.2")
        if exclude:
            say(f"leaving out the {len(exclude)} slow compression cases (64 and 128 KiB messages); --all runs them")
        started = time.monotonic()
        for impl in impls:
            begin = time.monotonic()
            with collected_logs() as logs:
                results = run_suite(wstest, impl, cases, exclude, workdir)
            if args.report_dir:
                shutil.copytree(workdir / "reports", args.report_dir / impl, dirs_exist_ok=True)
            shutil.rmtree(workdir / "reports", ignore_errors=True)
            failed = report(impl, results, logs.counts, time.monotonic() - begin)
            unexplained += [(impl, case) for case in failed]
        print(f"total time: {time.monotonic() - started:.0f} s")
    except SuiteUnavailable as exc:
        say(str(exc))
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        say("interrupted; the client and the server are stopped")
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if unexplained:
        print("FAILED and not explained: " + ", ".join(f"{case.id} ({impl})" for impl, case in unexplained))
        return 1
    print("every failing case is explained in docs/conformance.md")
    return 0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
