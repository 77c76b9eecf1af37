"""clean_generated_media against GNU find on two real trees of 100,000 files.

    .venv/bin/python benchmarks/bench_media.py        (also run by `make bench`)

Builds each real tree (BENCH_MEDIA_FILES files, default 100,000, about half older than 7 days,
no age within an hour of the boundary): "100 folders": 10 x 10 folders of 1,000 files;
"10,000 folders": 100 x 100 folders of 10 files (where per-folder costs show). Under
BENCH_MEDIA_DIR (default: the system temp folder), it copies a tree twice with `cp -a` per
round, then times, on the two copies:

- `python backend/manage.py clean_generated_media --json` (a subprocess, as cron or an
  operator would run it), with GENERATED_MEDIA_ROOT pointing at copy 1;
- the anchor, `find COPY2 -type f -mmin +10080 -delete`.

The command's start-up (interpreter, Django setup, one history row), measured on an empty
root in the same run (samples interleaved with the rounds), is subtracted from its time;
the output says so. Rounds alternate which of the two goes first. On a shared, loaded
machine the best of N is the stable figure (as `timeit` reports it), so minimums are
used; medians are printed beside them. The walk's own time, from the summary's
`duration_s`, is printed too. Exits non-zero when the deletion counts of the two
disagree, or differ from what the build planted, or the trees left differ.
Target: ratio <= 1.25 on each tree; one "ratio command/find" line per tree.
"""

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKEND = REPO / "backend"
FILES = int(os.environ.get("BENCH_MEDIA_FILES", "100000"))
ROUNDS = int(os.environ.get("BENCH_MEDIA_ROUNDS", "3"))
STARTUP_SAMPLES = 5
DAY = 86_400
MAX_AGE = 7 * DAY
MARGIN = 3_600  # no age within an hour of the boundary
TARGET_RATIO = 1.25


# name: (folders per level, in two levels), e.g. 10 -> 10 x 10 = 100 folders
TREES = {"100 folders": 10, "10,000 folders": 100}


def build_tree(root: Path, files: int, now: float, side: int) -> int:
    """Write `files` files in side x side folders; return how many are older than 7 days."""
    rng = random.Random(20260301)
    per_folder = -(-files // side**2)
    old = 0
    for n in range(files):
        folder = root / f"{n // per_folder // side:03d}" / f"{n // per_folder % side:03d}"
        if n % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"image-{n:06d}.png"
        with open(path, "wb") as handle:
            handle.write(b"\x89PNG" * rng.randint(1, 64))
        if rng.random() < 0.5:
            age = rng.uniform(MAX_AGE + MARGIN, 30 * DAY)
            old += 1
        else:
            age = rng.uniform(0, MAX_AGE - MARGIN)
        os.utime(path, (now - age, now - age))
    return old


def files_left(root: Path) -> set[str]:
    return {
        os.path.relpath(os.path.join(dirpath, name), root)
        for dirpath, _, names in os.walk(root)
        for name in names
    }


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str, float]:
    """Run `argv`; return its wall time, its stdout and its CPU time (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=BACKEND, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{argv[:3]} failed ({done.returncode}):\n{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, done.stdout, cpu


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="bench-media-", dir=os.environ.get("BENCH_MEDIA_DIR")))
    try:
        return run(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path) -> int:
    find = shutil.which("find")
    version = subprocess.run([find, "--version"], capture_output=True, text=True).stdout
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{base}/db.sqlite3",
        "LOG_DIR": str(base / "logs"),
        "LOG_LEVEL": "INFO",
        "DJANGO_SECRET_KEY": "bench",
        "GENERATED_MEDIA_MAX_AGE_DAYS": "7",
    }
    command = [sys.executable, "manage.py", "clean_generated_media", "--json"]
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "maintenance", "-v0"],
        env=env,
        cwd=BACKEND,
        check=True,
    )

    empty = base / "empty"
    empty.mkdir()
    failures = []
    for tree, side in TREES.items():
        print(f"== tree: {tree}")
        failures += measure(base / tree.replace(",", ""), side, command, env, empty, find)
        print(f"anchor: {version.splitlines()[0]}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


def measure(
    base: Path, side: int, command: list[str], env: dict, empty: Path, find: str
) -> list[str]:
    """Build one tree, time the command and find on copies of it; return the failures."""
    base.mkdir()
    source = base / "source"
    source.mkdir()
    started = time.perf_counter()
    planted_old = build_tree(source, FILES, time.time(), side)
    print(f"tree: {FILES} files in {side**2} folders, {planted_old} older than 7 days "
          f"(built in {time.perf_counter() - started:.1f} s, under {base})")  # fmt: skip

    startups, startup_cpus = [], []

    def startup_sample() -> None:
        wall, _, cpu = timed(command, {**env, "GENERATED_MEDIA_ROOT": str(empty)})
        startups.append(wall)
        startup_cpus.append(cpu)

    startup_sample()
    startup_sample()
    command_raw, find_times, walk_times, failures = [], [], [], []
    command_cpus, find_cpus = [], []
    by_command = by_find = -1
    for round_no in range(ROUNDS):
        copy1, copy2 = base / f"copy1-{round_no}", base / f"copy2-{round_no}"
        for copy in (copy1, copy2):
            subprocess.run(["cp", "-a", str(source), str(copy)], check=True)
        subprocess.run(["sync"], check=True)  # no writeback of the copies during the timing
        find_argv = [find, str(copy2), "-type", "f", "-mmin", "+10080", "-delete"]
        runs = {
            "command": lambda c=copy1: timed(command, {**env, "GENERATED_MEDIA_ROOT": str(c)}),
            "find": lambda argv=find_argv: timed(argv),
        }
        order = ["command", "find"] if round_no % 2 == 0 else ["find", "command"]
        startup_sample()
        results = {name: runs[name]() for name in order}
        startup_sample()
        command_raw.append(results["command"][0])
        find_times.append(results["find"][0])
        command_cpus.append(results["command"][2])
        find_cpus.append(results["find"][2])
        summary = json.loads(results["command"][1])
        walk_times.append(summary["duration_s"])
        by_command = summary["deleted"]
        left1, left2 = files_left(copy1), files_left(copy2)
        by_find = FILES - len(left2)
        print(
            f"round {round_no + 1}: command {results['command'][0]:.3f} s "
            f"(walk {summary['duration_s']:.3f} s), find {find_times[-1]:.3f} s; "
            f"deleted: command {by_command}, find {by_find}"
        )
        if not (by_command == by_find == planted_old == FILES - len(left1)):
            failures.append(f"round {round_no + 1}: deletion counts disagree")
        if left1 != left2:
            failures.append(f"round {round_no + 1}: the trees left differ")
        for copy in (copy1, copy2):
            shutil.rmtree(copy)

    startup = min(startups)
    command_s = min(command_raw) - startup
    find_s = min(find_times)
    walk_s = min(walk_times)
    ratio = command_s / find_s
    print(
        f"start-up of the command on an empty root: {startup:.3f} s (best of {len(startups)}, "
        f"median {statistics.median(startups):.3f} s); SUBTRACTED from the command's time"
    )
    print(
        f"clean_generated_media: {command_s:.3f} s, start-up subtracted (best of {ROUNDS}; "
        f"raw best {min(command_raw):.3f} s, raw median {statistics.median(command_raw):.3f} s)"
    )
    print(f"  its walk alone (summary duration_s): {walk_s:.3f} s (best of {ROUNDS})")
    print(
        f"find -type f -mmin +10080 -delete: {find_s:.3f} s (best of {ROUNDS}; "
        f"median {statistics.median(find_times):.3f} s)"
    )
    print(f"deleted: command {by_command}, find {by_find} (planted {planted_old})")
    print(
        f"ratio command/find ({side**2} folders): {ratio:.2f} (target <= {TARGET_RATIO})"
        + ("" if ratio <= TARGET_RATIO else "  MISSED")
    )
    print(f"ratio walk alone/find: {walk_s / find_s:.2f}")
    command_cpu = min(command_cpus) - min(startup_cpus)
    print(
        f"CPU time (user+sys, best of {ROUNDS}): command {command_cpu:.3f} s (start-up's "
        f"{min(startup_cpus):.3f} s subtracted), find {min(find_cpus):.3f} s, "
        f"ratio {command_cpu / min(find_cpus):.2f}"
    )
    return failures


if __name__ == "__main__":
    sys.exit(main())
