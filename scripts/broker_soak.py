"""Files and idle worker CPU against dead event listeners, on the embedded broker.

    .venv/bin/python scripts/broker_soak.py [--backend DIR] [--sessions 10] [--minutes 5]
        [--day-of-heartbeats] [--window 30]

Starts `make run`'s worker on a fresh broker folder, starts and SIGKILLs `--sessions`
`celery events` listeners (what a Flower that exits leaves behind), then prints the broker
folder's file count every 30 s and, at the end, the worker tree's CPU share over an idle
window. `--backend` runs another checkout's backend/ (e.g. main before the expiry) with
this venv. `--day-of-heartbeats` first writes, for each dead listener's queue, the 43,200
heartbeat messages a day (one each 2 s) would have written there, by copying its first one.
Default expiries (60 s events, 10 s control) unless CELERY_*_QUEUE_EXPIRES say otherwise.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live.soak_support import (
    bindings,
    broker_files,
    idle_cpu_share,
    soak_env,
    start_and_kill,
    start_worker,
)
from tests.live.stack import BACKEND_DIR, ProcessRegistry, wait_for

HEARTBEATS_PER_DAY = 86400 // 2


def write_day_of_heartbeats(root: Path, queues: list[str]) -> None:
    folder = root / "broker" / "queue"
    for queue in queues:
        first = wait_for(
            lambda q=queue: sorted(folder.glob(f"*.{q}.msg")), timeout_s=30, what=queue
        )[0]
        for n in range(HEARTBEATS_PER_DAY):
            shutil.copyfile(first, folder / f"{n:012d}_{uuid.uuid4()}.{queue}.msg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", type=Path, default=BACKEND_DIR)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--window", type=float, default=30)
    parser.add_argument("--day-of-heartbeats", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="broker-soak-"))
    env = soak_env(
        root,
        event_expires_s=int(os.environ.get("CELERY_EVENT_QUEUE_EXPIRES", 60)),
        control_expires_s=int(os.environ.get("CELERY_CONTROL_QUEUE_EXPIRES", 10)),
    )
    processes = ProcessRegistry()
    try:
        worker = start_worker(processes, root, env, backend=args.backend.resolve())
        print(f"backend {args.backend}, idle: {idle_cpu_share(worker, window_s=args.window):.2%}")
        start_and_kill(
            processes,
            root,
            env,
            argv=["events", "--dump"],
            exchange="celeryev",
            count=args.sessions,
            backend=args.backend.resolve(),
        )
        dead = bindings(root)["celeryev"]
        print(f"{args.sessions} listeners killed; bound to celeryev: {len(dead)}")
        if args.day_of_heartbeats:
            write_day_of_heartbeats(root, dead)
            print(f"wrote a day of heartbeats: {broker_files(root)} files")
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < args.minutes * 60:
            print(f"t={elapsed:5.0f} s files={broker_files(root)}", flush=True)
            time.sleep(30)
        print(f"t={elapsed:5.0f} s files={broker_files(root)}")
        print(f"bound to celeryev: {len(bindings(root)['celeryev'])}")
        share = idle_cpu_share(worker, window_s=args.window)
        print(f"idle worker tree CPU over {args.window:.0f} s: {share:.2%} of a core")
    finally:
        processes.stop_all(grace_s=5)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
