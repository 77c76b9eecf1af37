"""How long `make run` takes to stop on a Ctrl-C, with an idle worker.

    .venv/bin/python benchmarks/bench_shutdown.py [ROUNDS]   (also run by `make bench`)

Starts `make run` in a pseudo-terminal on private folders (tests/live/terminal.py), waits
until the worker is ready and has idled 3 s, types Ctrl-C and times until make exits.
Prints each round, the best and the median. Target: under 3 s, exit status 0.
"""

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live.terminal import make_run_and_ctrl_c


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    times = []
    for n in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as root:
            stopped = make_run_and_ctrl_c(Path(root), idle_s=3.0)
        print(f"round {n + 1}: exit status {stopped.exit_status}, {stopped.seconds:.2f} s")
        if stopped.exit_status != 0:
            sys.exit(f"make run exited {stopped.exit_status}:\n{stopped.output[-2000:]}")
        times.append(stopped.seconds)
    best, median = min(times), statistics.median(times)
    print(f"Ctrl-C to exit of make run: best {best:.2f} s, median {median:.2f} s")


if __name__ == "__main__":
    main()
