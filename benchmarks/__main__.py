"""Run every benchmark: ``python -m benchmarks`` (or ``python3 course.py bench``).

Options are passed to the file-transfer benchmark, e.g. ``--size-mib 64``.
"""

import sys

from benchmarks import bench_background, bench_binary

if __name__ == "__main__":
    bench_background.main([])
    print()
    bench_binary.main(sys.argv[1:])
