"""Run every benchmark in turn: ``python -m benchmarks`` (or ``python3 course.py bench``).

Run from the repository root::

    python -m benchmarks                                  # background, binary, text, load, chat
    python -m benchmarks --only text load                 # just these, in the same order
    python -m benchmarks --binary="--size-mib 64 --repeats 3" --text="--repeats 3"

Each benchmark takes its own options, in one string after ``--<name>=``
(``python -m benchmarks.bench_binary --help`` lists them); they are
checked before the first benchmark starts, so a typo fails at once, not
after minutes. A benchmark that fails is reported and the others still
run; the exit status is then 1. The Autobahn conformance run is not a
benchmark and is not run here: ``python3 course.py conformance``.
"""

from __future__ import annotations

import argparse
import shlex
import time
import traceback

from benchmarks import bench_background, bench_binary, bench_chat, bench_load, bench_text

#: In the order they run: the quick check of the helper first.
BENCHMARKS = {
    "background": bench_background,
    "binary": bench_binary,
    "text": bench_text,
    "load": bench_load,
    "chat": bench_chat,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    for name, module in BENCHMARKS.items():
        parser.add_argument(f"--{name}", default="", metavar="OPTIONS", help=f"options for {module.__name__}")
    args = parser.parse_args(argv)
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]
    options = {name: shlex.split(getattr(args, name)) for name in chosen}
    for name in chosen:
        if hasattr(BENCHMARKS[name], "parse_args"):  # bench_background parses its options in main()
            BENCHMARKS[name].parse_args(options[name])

    took: dict[str, float] = {}
    failed: list[str] = []
    for name in chosen:
        print(f"== {BENCHMARKS[name].__name__} {shlex.join(options[name])}".rstrip(), flush=True)
        start = time.perf_counter()
        try:
            BENCHMARKS[name].main(options[name])
        except (Exception, SystemExit):  # one broken benchmark should not hide the others' numbers
            traceback.print_exc()
            failed.append(name)
        took[name] = time.perf_counter() - start
        print(flush=True)
    print("took " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in took.items()), end="")
    print(f"; {sum(took.values()) / 60:.1f} min in all")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
