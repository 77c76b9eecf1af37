"""clean_generated_media against GNU find, on real trees of four shapes and at 1M files.

    .venv/bin/python benchmarks/bench_media.py        (also run by `make bench`)

Each tree holds BENCH_MEDIA_FILES files (default 100,000), about half older than 7 days,
no age within an hour of the boundary. Shapes: "100 folders" (10 x 10 folders of 1,000
files), "10,000 folders" (100 x 100 folders of 10: per-folder costs show), "one folder"
(all files in the root) and "6 levels x 4" (4,096 leaf folders six levels down).
BENCH_MEDIA_SHAPES picks some (names as printed without their own commas,
comma-separated: "10000 folders,one folder"). Under BENCH_MEDIA_DIR
(default: the system temp folder) it copies a tree twice with `cp -a` per round, then
times, on the two copies, in alternating order:

- `python backend/manage.py clean_generated_media --json` (a subprocess, as cron or an
  operator would run it), with GENERATED_MEDIA_ROOT pointing at copy 1;
- the anchor, `find COPY2 -type f -mmin +10080 -delete`.

Printed per shape: the whole command's time (what a user waits for) and, beside it, the
command with its start-up subtracted (interpreter, Django setup, one history row: measured
on an empty root, samples interleaved with the rounds), each as a ratio to find; the
walk's own `duration_s`; CPU times; the command's peak RSS; the load average. Minima of
BENCH_MEDIA_ROUNDS (default 3) rounds are the figures (on a shared machine the best of N
is the stable one, as `timeit` reports it); medians are printed beside them.
Target: start-up-subtracted ratio <= 1.25 on every shape.

Then one run (not best-of) of BENCH_MEDIA_LARGE files (default 1,000,000; 0 skips it) in
the "10,000 folders" shape scaled up (100 files per folder), against find, to show that
time grows linearly with the files and peak memory stays flat. Exits non-zero when
the deletion counts of the two disagree, or differ from what the build planted, or the
trees left differ.
"""

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKEND = REPO / "backend"
FILES = int(os.environ.get("BENCH_MEDIA_FILES", "100000"))
ROUNDS = int(os.environ.get("BENCH_MEDIA_ROUNDS", "3"))
LARGE = int(os.environ.get("BENCH_MEDIA_LARGE", "1000000"))
DAY = 86_400
MAX_AGE = 7 * DAY
MARGIN = 3_600  # no age within an hour of the boundary
TARGET_RATIO = 1.25

Layout = Callable[[int, int], str]  # (file number, files in the tree) -> its folder


def grid(side: int) -> Layout:
    """side x side folders in two levels, files spread evenly in order."""

    def folder(n: int, files: int) -> str:
        per_folder = -(-files // side**2)
        return f"{n // per_folder // side:03d}/{n // per_folder % side:03d}"

    return folder


def levels(depth: int, fan_out: int) -> Layout:
    """fan_out ** depth leaf folders, `depth` levels down; files only in the leaves."""

    def folder(n: int, files: int) -> str:
        leaf = n * fan_out**depth // files
        return "/".join(str(leaf // fan_out**k % fan_out) for k in reversed(range(depth)))

    return folder


SHAPES: dict[str, Layout] = {
    "100 folders": grid(10),
    "10,000 folders": grid(100),
    "one folder": lambda n, files: ".",
    "6 levels x 4": levels(6, 4),
}


def build(root: Path, files: int, now: float, layout: Layout) -> int:
    """Write `files` files laid out by `layout`; return how many are older than 7 days."""
    rng = random.Random(20260301)
    old, made = 0, set()
    for n in range(files):
        folder = root / layout(n, files)
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        path = folder / f"image-{n:07d}.png"
        with open(path, "wb") as handle:
            handle.write(b"\x89PNG" * rng.randint(1, 64))
        if rng.random() < 0.5:
            age = rng.uniform(MAX_AGE + MARGIN, 30 * DAY)
            old += 1
        else:
            age = rng.uniform(0, MAX_AGE - MARGIN)
        os.utime(path, (now - age, now - age))
    return old


def build_tree(root: Path, files: int, now: float, side: int) -> int:
    """`files` files in side x side folders (bench_progress's trees)."""
    return build(root, files, now, grid(side))


def files_left(root: Path) -> set[str]:
    return {
        os.path.relpath(os.path.join(dirpath, name), root)
        for dirpath, _, names in os.walk(root)
        for name in names
    }


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str, float, int]:
    """Run `argv`; return its wall time, stdout, CPU time (user + system), peak RSS (KiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, cwd=BACKEND, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not the sum
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"{argv[:3]} failed ({child.returncode}):\n{err.read().decode()}")
        cpu = usage.ru_utime + usage.ru_stime
        return elapsed, out.read().decode(), cpu, usage.ru_maxrss


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
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "maintenance", "-v0"],
        env=env,
        cwd=BACKEND,
        check=True,
    )
    bench = Bench(base, env, find)
    print(f"anchor: {version.splitlines()[0]}; {os.cpu_count()} CPUs; {FILES} files per tree")
    chosen = os.environ.get("BENCH_MEDIA_SHAPES")
    wanted = {n.strip() for n in chosen.split(",")} if chosen else None
    names = [n for n in SHAPES if wanted is None or n.replace(",", "") in wanted]
    results = {name: bench.shape(name, SHAPES[name]) for name in names}
    print("\n== summary (start-up subtracted; whole command in brackets)")
    for name, (ratio, raw) in results.items():
        verdict = "" if ratio <= TARGET_RATIO else "  MISSED"
        print(f"ratio command/find, {name}: {ratio:.2f} [{raw:.2f}] (target <= 1.25){verdict}")
    if LARGE:
        bench.large(LARGE)
    for failure in bench.failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if bench.failures else 0


class Bench:
    """The command and find, timed on copies of each tree; start-up sampled in between."""

    def __init__(self, base: Path, env: dict[str, str], find: str) -> None:
        self.base, self.env, self.find = base, env, find
        self.command = [sys.executable, "manage.py", "clean_generated_media", "--json"]
        self.empty = base / "empty"
        self.empty.mkdir()
        self.startups: list[tuple[float, float, int]] = []
        self.failures: list[str] = []
        self.per_file: dict[str, float] = {}
        self.rss: dict[str, float] = {}

    def startup_sample(self) -> None:
        wall, _, cpu, rss = timed(
            self.command, {**self.env, "GENERATED_MEDIA_ROOT": str(self.empty)}
        )
        self.startups.append((wall, cpu, rss))

    def pair(self, source: Path, label: str, first: str) -> dict:
        """One round: copy the tree twice, time the command and find in the order given."""
        copy1, copy2 = source.parent / f"{label}-1", source.parent / f"{label}-2"
        for copy in (copy1, copy2):
            subprocess.run(["cp", "-a", str(source), str(copy)], check=True)
        subprocess.run(["sync"], check=True)  # no writeback of the copies during the timing
        argv = [self.find, str(copy2), "-type", "f", "-mmin", "+10080", "-delete"]
        runs = {
            "command": lambda: timed(
                self.command, {**self.env, "GENERATED_MEDIA_ROOT": str(copy1)}
            ),
            "find": lambda: timed(argv),
        }
        order = [first, "find" if first == "command" else "command"]
        result = {name: runs[name]() for name in order}
        result["load"] = os.getloadavg()[0]
        result["summary"] = json.loads(result["command"][1])
        left1, left2 = files_left(copy1), files_left(copy2)
        result["left"] = (len(left1), len(left2))
        if left1 != left2:
            self.failures.append(f"{label}: the trees left by the command and find differ")
        for copy in (copy1, copy2):
            shutil.rmtree(copy)
        return result

    def shape(self, name: str, layout: Layout) -> tuple[float, float]:
        """Build one tree, time both on copies of it; return the ratios (subtracted, raw)."""
        folder = self.base / name.replace(",", "").replace(" ", "-")
        source = folder / "source"
        source.mkdir(parents=True)
        started = time.perf_counter()
        planted = build(source, FILES, time.time(), layout)
        print(
            f"\n== tree: {name}: {FILES} files, {planted} older than 7 days "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        self.startup_sample()
        rounds = []
        for number in range(ROUNDS):
            self.startup_sample()
            rounds.append(self.pair(source, f"round{number}", ("command", "find")[number % 2]))
            r = rounds[-1]
            print(
                f"round {number + 1}: command {r['command'][0]:.3f} s (walk "
                f"{r['summary']['duration_s']:.3f} s), find {r['find'][0]:.3f} s; deleted: "
                f"command {r['summary']['deleted']}, find {FILES - r['left'][1]}; "
                f"load {r['load']:.2f}"
            )
            if not r["summary"]["deleted"] == FILES - r["left"][1] == planted:
                self.failures.append(f"{name}, round {number + 1}: deletion counts disagree")
        shutil.rmtree(folder)
        startup = min(s[0] for s in self.startups)
        raw = min(r["command"][0] for r in rounds)
        find = min(r["find"][0] for r in rounds)
        walk = min(r["summary"]["duration_s"] for r in rounds)
        cpu = min(r["command"][2] for r in rounds) - min(s[1] for s in self.startups)
        find_cpu = min(r["find"][2] for r in rounds)
        rss = max(r["command"][3] for r in rounds) / 1024
        self.per_file[name], self.rss[name] = (raw - startup) / FILES, rss
        print(
            f"start-up on an empty root: {startup:.3f} s (best of {len(self.startups)}, "
            f"median {statistics.median(s[0] for s in self.startups):.3f} s)"
        )
        print(
            f"command: {raw:.3f} s whole, {raw - startup:.3f} s start-up subtracted, walk "
            f"{walk:.3f} s (best of {ROUNDS}; whole median "
            f"{statistics.median(r['command'][0] for r in rounds):.3f} s); peak RSS {rss:.1f} MB"
        )
        print(
            f"find: {find:.3f} s (best of {ROUNDS}; median "
            f"{statistics.median(r['find'][0] for r in rounds):.3f} s)"
        )
        print(
            f"CPU (user+sys, best): command {cpu:.3f} s (start-up's subtracted), find "
            f"{find_cpu:.3f} s, ratio {cpu / find_cpu:.2f}"
        )
        ratio, whole = (raw - startup) / find, raw / find
        print(
            f"ratio command/find ({name}): {ratio:.2f} start-up subtracted, {whole:.2f} whole"
            f" (target <= {TARGET_RATIO})" + ("" if ratio <= TARGET_RATIO else "  MISSED")
        )
        return ratio, whole

    def large(self, files: int) -> None:
        """One run of `files` files in 100 x 100 folders: linear time, flat memory."""
        source = self.base / "large" / "source"
        source.mkdir(parents=True)
        started = time.perf_counter()
        planted = build(source, files, time.time(), grid(100))
        print(
            f"\n== one run at {files} files in 100 x 100 folders, {planted} older than 7 days "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        r = self.pair(source, "large", "command")
        startup = min(s[0] for s in self.startups)
        command, find, rss = r["command"][0], r["find"][0], r["command"][3] / 1024
        if r["summary"]["deleted"] != planted or files - r["left"][1] != planted:
            self.failures.append(f"{files} files: deletion counts disagree")
        print(
            f"command {command:.1f} s whole ({command - startup:.1f} s start-up subtracted, "
            f"walk {r['summary']['duration_s']:.1f} s), find {find:.1f} s: ratio "
            f"{(command - startup) / find:.2f} subtracted, {command / find:.2f} whole; "
            f"load {r['load']:.2f}"
        )
        small = self.per_file.get("10,000 folders")
        if small:
            per_file = (command - startup) / files
            print(
                f"time per file: {per_file * 1e6:.1f} us at {files}, {small * 1e6:.1f} us at "
                f"{FILES} (10,000 folders): ratio {per_file / small:.2f} (linear: about 1)"
            )
        empty_rss = max(s[2] for s in self.startups) / 1024
        at_small = self.rss.get("10,000 folders")
        print(
            f"peak RSS: {rss:.1f} MB at {files} files"
            + (f", {at_small:.1f} MB at {FILES} (ratio {rss / at_small:.2f})" if at_small else "")
            + f", {empty_rss:.1f} MB on an empty root"
        )
        shutil.rmtree(source.parent)


if __name__ == "__main__":
    sys.exit(main())
