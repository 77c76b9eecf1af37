"""What progress reporting costs each cleanup: the same run with and without it.

    .venv/bin/python benchmarks/bench_progress.py        (also run by `make bench`)

Media: `delete_old_media` on copies of bench_media's two trees (BENCH_PROGRESS_FILES,
default 100,000 files, half of them old, in 100 folders and in 10,000 folders).
Tokens: `delete_expired_tokens` on copies of bench_tokens' SQLite seed
(BENCH_PROGRESS_TOKENS, default 100,000 real JWTs, margin 0).

Each round runs both variants, in alternating order, on fresh copies; the best of
BENCH_PROGRESS_ROUNDS (default 5) is kept. "With progress" is what the management command
does on a terminal: a `Throttled` callback drawing tqdm's line (here into /dev/null); the
task's `update_state` is the same callback with a result write in place of the line, at
most once a second. Both variants must leave the same counts. Target: ratio <= 1.03.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent)]
import bench_media  # noqa: E402  (the sibling benches' tree and seed)
import bench_tokens  # noqa: E402

FILES = int(os.environ.get("BENCH_PROGRESS_FILES", "100000"))
TOKENS = int(os.environ.get("BENCH_PROGRESS_TOKENS", "100000"))
ROUNDS = int(os.environ.get("BENCH_PROGRESS_ROUNDS", "5"))
TARGET = 1.03


def best_of(label: str, prepare: Callable[[int], object], run: Callable[..., dict]) -> None:
    """Time run(prepared, progress) against run(prepared, None); print both and the ratio."""
    from maintenance.progress import TerminalLine, Throttled

    best = {"without": float("inf"), "with": float("inf")}
    counts = {}
    with open(os.devnull, "w") as devnull:
        for round_ in range(ROUNDS):
            order = ("without", "with") if round_ % 2 == 0 else ("with", "without")
            for variant in order:
                prepared = prepare(round_)
                line = TerminalLine(devnull) if variant == "with" else None
                started = time.perf_counter()
                counts[variant] = run(prepared, line and Throttled(line))
                best[variant] = min(best[variant], time.perf_counter() - started)
                if line is not None:
                    line.close()
    if counts["with"] != counts["without"]:
        sys.exit(f"{label}: the counts differ with progress: {counts}")
    ratio = best["with"] / best["without"]
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(
        f"{label}: without progress {best['without']:.3f} s, with {best['with']:.3f} s, "
        f"ratio {ratio:.3f} (target <= {TARGET}: {verdict}), best of {ROUNDS}, {counts['with']}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-progress-") as tmp:
        work = Path(tmp)
        now = int(time.time())
        # Django on one SQLite file that each token round copies the seed over.
        tokens_db = bench_tokens.SQLite(work)
        seed, _ = tokens_db.seed(TOKENS, now)
        os.environ.update(
            DATABASE_URL=tokens_db.url(work / "run.sqlite3"),
            DJANGO_SECRET_KEY=bench_tokens.SECRET,
            LOG_DIR=str(work / "logs"),
            LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="config.settings",
        )
        sys.path.insert(0, str(bench_tokens.BACKEND))
        import django

        django.setup()
        from django.db import connections

        from maintenance.media import delete_old_media
        from maintenance.tokens import delete_expired_tokens

        trees = {}
        for side in (10, 100):  # 100 folders of 1,000 files; 10,000 folders of 10
            trees[side] = work / f"tree-{side}"
            bench_media.build_tree(trees[side], FILES, time.time(), side)

        def media_copy(side: int) -> Callable[[int], Path]:
            def copy(round_: int) -> Path:
                target = work / "media"
                shutil.rmtree(target, ignore_errors=True)
                subprocess.run(["cp", "-a", str(trees[side]), str(target)], check=True)
                subprocess.run(["sync"], check=True)
                return target

            return copy

        def media_run(root: Path, progress: object) -> dict:
            summary = delete_old_media(
                root=root,
                now=datetime.now(UTC),
                max_age=timedelta(days=7),
                dry_run=False,
                progress=progress,
            )
            return {"scanned": summary.scanned, "deleted": summary.deleted}

        def tokens_copy(round_: int) -> None:
            connections.close_all()
            shutil.copyfile(seed, work / "run.sqlite3")

        def tokens_run(_: None, progress: object) -> dict:
            summary = delete_expired_tokens(
                now=datetime.fromtimestamp(now, UTC),
                margin=timedelta(0),
                batch_size=5000,
                dry_run=False,
                progress=progress,
            )
            return {"scanned": summary.scanned, "deleted": summary.outstanding_deleted}

        best_of(f"media ({FILES:,} files in 100 folders)", media_copy(10), media_run)
        best_of(f"media ({FILES:,} files in 10,000 folders)", media_copy(100), media_run)
        best_of(f"tokens ({TOKENS:,} tokens, SQLite)", tokens_copy, tokens_run)


if __name__ == "__main__":
    main()
