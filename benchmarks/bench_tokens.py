"""clean_blacklisted_tokens against simplejwt's flushexpiredtokens and a raw SQL floor.

    .venv/bin/python benchmarks/bench_tokens.py          (also run by `make bench`)
    BENCH_TOKENS_SIZES=1000000 .venv/bin/python benchmarks/bench_tokens.py     (1M figures)

Knobs (environment): BENCH_TOKENS_SIZES (comma-separated, default 200000),
BENCH_TOKENS_BACKENDS (default sqlite,postgresql), BENCH_TOKENS_ROUNDS (default 5),
BENCH_TOKENS_RSS_SIZES (default 100000,1000000; empty: no RSS pair), BENCH_TOKENS_SEQUENTIAL=1
(adds the labelled extra: the same seed with sequential `jti`s), BENCH_TOKENS_BATCH_SIZE
(TOKEN_CLEANUP_BATCH_SIZE for ours; default: the project's), BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/pm_bench_tokens; PostgreSQL is skipped, with a line, when
nothing answers there). Its databases are named after the URL's (pm_bench_tokens_seed_200000,
...) and dropped at the end.

The seed is what simplejwt writes: one OutstandingToken row per refresh token issued, in
issue order, for one of `count // 20` real users, with a uuid4-hex `jti`, `iat` spread
over 40 days and `exp` one day later (from -30 to +10 days around now, none within an hour
of now or of now - 7 days), the JWT signed HS256 as simplejwt signs it (checked against
PyJWT); about half of them blacklisted. The rows are generated once per size into tab-
separated files, then bulk loaded (COPY on PostgreSQL, executemany on SQLite) into a
migrated database; every measured run gets an identical fresh copy (a file copy, or
CREATE DATABASE ... TEMPLATE).

Each round runs, in alternating order, at margin 0 (TOKEN_CLEANUP_SAFETY_MARGIN_DAYS=0):
ours (`manage.py clean_blacklisted_tokens --json`) and the anchor (`manage.py
flushexpiredtokens`), then the floor (one transaction of two raw `DELETE ... WHERE
expires_at < now`). A command runs as `manage.py`'s own `main()` in a fresh process (this
file with `--command`: it only adds a clock around the command's `execute`), so each run
gives both the whole command's wall time (start-up included: what a person waits for) and
the in-process time. Peak RSS is the process's own VmHWM. The rows left must be the same
after all three and our counts must match the seed; otherwise the bench exits non-zero.
The 1-minute load average is sampled during the runs and printed: on a shared machine,
read the minima. Targets: whole command <= 0.6 x flush (stretch 0.5); in-process <= 2 x
the floor; peak RSS at the largest RSS size <= 1.2 x at the smallest.
"""

import hmac
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from base64 import urlsafe_b64encode
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from random import Random
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

REPO = Path(__file__).resolve().parents[1]
BACKEND = REPO / "backend"
SIZES = [int(n) for n in os.environ.get("BENCH_TOKENS_SIZES", "200000").split(",") if n]
BACKENDS = os.environ.get("BENCH_TOKENS_BACKENDS", "sqlite,postgresql").split(",")
ROUNDS = int(os.environ.get("BENCH_TOKENS_ROUNDS", "5"))
RSS_SIZES = [
    int(n) for n in os.environ.get("BENCH_TOKENS_RSS_SIZES", "100000,1000000").split(",") if n
]
SEQUENTIAL = os.environ.get("BENCH_TOKENS_SEQUENTIAL", "") == "1"
BATCH_SIZE = os.environ.get("BENCH_TOKENS_BATCH_SIZE", "")  # empty: the project's default
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/pm_bench_tokens"
)
DAY = 86_400
HOUR = 3_600
MARGIN_DAYS = 7
TOKENS_PER_USER = 20
SECRET = "bench-secret-key-not-for-production-0123456789abcdef"
OUTSTANDING = "token_blacklist_outstandingtoken"
BLACKLIST = "token_blacklist_blacklistedtoken"
USERS = "auth_user"
COMMANDS = {"ours": "clean_blacklisted_tokens", "flush": "flushexpiredtokens"}
WHOLE_TARGET, WHOLE_STRETCH, FLOOR_TARGET, RSS_TARGET = 0.6, 0.5, 2.0, 1.2


# --- the children: one measured action in a fresh process ---------------------------------


def peak_rss_kb() -> int:
    """This process image's peak resident set size (VmHWM), in KiB.

    Not `ru_maxrss`: Linux carries a parent's RSS across fork + exec into the child's.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0  # pragma: no cover - not Linux


def command_child(name: str, result_path: str) -> None:
    """Run `manage.py <name>` as manage.py does, with a clock around the command's execute."""
    sys.path.insert(0, str(BACKEND))
    sys.argv = ["manage.py", name, *(["--json"] if name == COMMANDS["ours"] else [])]
    from django.core.management.base import BaseCommand

    real_execute = BaseCommand.execute
    timing: dict = {}

    def timed_execute(self: BaseCommand, *args: object, **options: object) -> object:
        started = time.perf_counter()
        try:
            return real_execute(self, *args, **options)
        finally:
            timing["seconds"] = time.perf_counter() - started

    BaseCommand.execute = timed_execute
    import manage

    try:
        manage.main()
    finally:
        Path(result_path).write_text(json.dumps(timing | {"rss_kb": peak_rss_kb()}))


def floor_child(result_path: str) -> None:
    """Time the raw SQL floor: both DELETEs by expires_at, in one transaction."""
    sys.path.insert(0, str(BACKEND))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {BLACKLIST} WHERE token_id IN"
            f" (SELECT id FROM {OUTSTANDING} WHERE expires_at < %s)",
            [now],
        )
        cursor.execute(f"DELETE FROM {OUTSTANDING} WHERE expires_at < %s", [now])
    seconds = time.perf_counter() - started
    Path(result_path).write_text(json.dumps({"seconds": seconds, "rss_kb": peak_rss_kb()}))


def child_env(database_url: str, workdir: Path) -> dict:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "TOKEN_CLEANUP_SAFETY_MARGIN_DAYS": "0",
        "DJANGO_SECRET_KEY": SECRET,
        "LOG_DIR": str(workdir / "logs"),
        "LOG_LEVEL": "WARNING",
    }
    if BATCH_SIZE:
        env["TOKEN_CLEANUP_BATCH_SIZE"] = BATCH_SIZE
    env.pop("DJANGO_DEBUG", None)
    return env


def run_child(action: str, database_url: str, workdir: Path) -> dict:
    """Run one action in a fresh process; return its whole time, in-process time, RSS, output."""
    result = workdir / "result.json"
    result.unlink(missing_ok=True)
    argv = [sys.executable, __file__]
    argv += ["--command", COMMANDS[action]] if action in COMMANDS else ["--floor"]
    started = time.perf_counter()
    done = subprocess.run(
        [*argv, str(result)],
        env=child_env(database_url, workdir),
        cwd=BACKEND,
        capture_output=True,
        text=True,
    )
    whole = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{action} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    measured = json.loads(result.read_text())
    return {
        "whole": whole,
        "inprocess": measured["seconds"],
        "rss_kb": measured["rss_kb"],
        "summary": json.loads(done.stdout) if action == "ours" else None,
    }


def migrate(database_url: str, workdir: Path) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BACKEND,
        env=child_env(database_url, workdir),
        check=True,
    )


# --- the seed ------------------------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return urlsafe_b64encode(raw).rstrip(b"=").decode()


HEADER = b64url(b'{"alg":"HS256","typ":"JWT"}')
KEY = SECRET.encode()


def refresh_jwt(exp: int, iat: int, jti: str, user_id: int) -> str:
    """An HS256 refresh JWT with the claims, order and separators simplejwt (PyJWT) writes."""
    claims = (
        f'{{"token_type":"refresh","exp":{exp},"iat":{iat},"jti":"{jti}","user_id":"{user_id}"}}'
    )
    signing_input = f"{HEADER}.{b64url(claims.encode())}"
    signature = hmac.new(KEY, signing_input.encode(), sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def stamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def generate(count: int, now: int, folder: Path, *, sequential: bool = False) -> dict:
    """Write users.tsv, outstanding.tsv and blacklist.tsv for `count` tokens; return counts."""
    rng = Random(count)
    users = max(1, count // TOKENS_PER_USER)
    folder.mkdir(parents=True, exist_ok=True)
    joined = stamp(now - 60 * DAY)
    with (folder / "users.tsv").open("w") as out:
        for user_id in range(1, users + 1):
            out.write(f"{user_id}\t!\t0\tuser{user_id}\t\t\t\t0\t1\t{joined}\n")
    counts = {"tokens": count, "users": users, "blacklisted": 0}
    counts |= {"expired": 0, "expired_blacklisted": 0}
    first_iat, span = now - 31 * DAY, 40 * DAY
    boundaries = (now, now - MARGIN_DAYS * DAY)
    with (
        (folder / "outstanding.tsv").open("w") as tokens,
        (folder / "blacklist.tsv").open("w") as blacklist,
    ):
        for pk in range(1, count + 1):
            iat = first_iat + span * (pk - 1) // count  # issued in id order
            exp = iat + DAY
            if any(abs(exp - edge) < HOUR for edge in boundaries):
                exp += 2 * HOUR  # nothing sits on a boundary: the counts are exact
            jti = f"{pk:032x}" if sequential else UUID(int=rng.getrandbits(128), version=4).hex
            user_id = rng.randint(1, users)
            token = refresh_jwt(exp, iat, jti, user_id)
            tokens.write(f"{pk}\t{user_id}\t{jti}\t{token}\t{stamp(iat)}\t{stamp(exp)}\n")
            expired = exp < now
            counts["expired"] += expired
            if rng.random() < 0.5:  # rotated or logged out some time before it expires
                counts["blacklisted"] += 1
                counts["expired_blacklisted"] += expired
                at = stamp(rng.randint(iat, exp))
                blacklist.write(f"{counts['blacklisted']}\t{pk}\t{at}\n")
    return counts


def check_signature(folder: Path) -> None:
    """The first seeded token is what PyJWT signs for its claims with the bench key."""
    import jwt

    token = (folder / "outstanding.tsv").open().readline().split("\t")[3]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert jwt.encode(claims, SECRET, algorithm="HS256") == token, "seed is not PyJWT's JWT"


def tsv_rows(path: Path, converters: tuple) -> object:
    with path.open() as lines:
        for line in lines:
            yield tuple(
                f(v) for f, v in zip(converters, line.rstrip("\n").split("\t"), strict=True)
            )


USER_COLUMNS = (
    "id, password, is_superuser, username, first_name, last_name, email, is_staff,"
    " is_active, date_joined"
)
TOKEN_COLUMNS = "id, user_id, jti, token, created_at, expires_at"
BLACKLIST_COLUMNS = "id, token_id, blacklisted_at"


class SQLite:
    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.base = workdir / "base.sqlite3"
        migrate(self.url(self.base), workdir)

    @staticmethod
    def url(path: Path) -> str:
        return f"sqlite:///{path}"

    def load(self, folder: Path, label: str) -> str:
        import sqlite3

        path = self.workdir / f"seed_{label}.sqlite3"
        shutil.copyfile(self.base, path)
        text = (str,) * 10
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode = OFF")  # back to DELETE for the runs below
            db.execute("PRAGMA synchronous = OFF")
            for table, columns, file, converters in (
                (USERS, USER_COLUMNS, "users.tsv", text),
                (OUTSTANDING, TOKEN_COLUMNS, "outstanding.tsv", (int, int, str, str, str, str)),
                (BLACKLIST, BLACKLIST_COLUMNS, "blacklist.tsv", (int, int, str)),
            ):
                marks = ", ".join("?" * len(columns.split(",")))
                db.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                    tsv_rows(folder / file, converters),
                )
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode = DELETE")
        return str(path)

    def seed(self, count: int, now: int) -> tuple[str, dict]:
        """Generate and load `count` tokens; return the seed's path and its counts."""
        folder = self.workdir / f"tsv_{count}"
        counts = generate(count, now, folder)
        return self.load(folder, str(count)), counts

    def copy(self, seed: str, label: str) -> str:
        path = self.workdir / f"{label}.sqlite3"
        shutil.copyfile(seed, path)
        return self.url(path)

    def remaining(self, url: str) -> tuple[int, int, int]:
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return _remaining(db.cursor())

    def drop(self, url: str) -> None:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)

    def cleanup(self) -> None:
        pass


class PostgreSQL:
    name = "postgresql"

    def __init__(self, database_url: str, workdir: Path) -> None:
        import psycopg

        self.parts = urlsplit(database_url)
        self.prefix = self.parts.path.lstrip("/") or "pm_bench_tokens"
        self.admin = psycopg.connect(self.url("postgres"), autocommit=True)
        self.created: list[str] = []
        self.base = self.create(f"{self.prefix}_base")
        self.workdir = workdir
        migrate(self.url(self.base), workdir)

    def url(self, database: str) -> str:
        return urlunsplit(self.parts._replace(path=f"/{database}"))

    def create(self, database: str, template: str | None = None) -> str:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        clause = f' TEMPLATE "{template}"' if template else ""
        self.admin.execute(f'CREATE DATABASE "{database}"{clause}')
        if database not in self.created:
            self.created.append(database)
        return database

    def load(self, folder: Path, label: str) -> str:
        import psycopg

        database = self.create(f"{self.prefix}_seed_{label}", template=self.base)
        with psycopg.connect(self.url(database)) as db, db.cursor() as cursor:
            for table, columns, file in (
                (USERS, USER_COLUMNS, "users.tsv"),
                (OUTSTANDING, TOKEN_COLUMNS, "outstanding.tsv"),
                (BLACKLIST, BLACKLIST_COLUMNS, "blacklist.tsv"),
            ):
                with (
                    cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                    (folder / file).open("rb") as data,
                ):
                    while chunk := data.read(1 << 20):
                        copy.write(chunk)
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"
                )
        with psycopg.connect(self.url(database), autocommit=True) as db:
            db.execute("VACUUM ANALYZE")  # as autovacuum would have, on a table this old
        return database

    def copy(self, seed: str, label: str) -> str:
        return self.url(self.create(f"{self.prefix}_{label}", template=seed))

    def remaining(self, url: str) -> tuple[int, int, int]:
        import psycopg

        with psycopg.connect(url) as db, db.cursor() as cursor:
            return _remaining(cursor)

    def drop(self, url: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}"')

    def cleanup(self) -> None:
        for database in reversed(self.created):
            self.admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        self.admin.close()


def _remaining(cursor: object) -> tuple[int, int, int]:
    """Rows left in each table, and a checksum of the outstanding ids left."""
    cursor.execute(f"SELECT COUNT(*), COALESCE(SUM(id), 0) FROM {OUTSTANDING}")
    outstanding, id_sum = cursor.fetchone()
    cursor.execute(f"SELECT COUNT(*) FROM {BLACKLIST}")
    return outstanding, cursor.fetchone()[0], int(id_sum)


# --- the comparison ------------------------------------------------------------------------


class Load:
    """The 1-minute load average, sampled every 2 s while the runs go."""

    def __init__(self) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(2):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        return f"load average (1 min) {min(self.samples):.2f}-{max(self.samples):.2f}"


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def seconds(values: list[float]) -> str:
    return f"{min(values):6.2f} {statistics.median(values):6.2f}"


def compare(db: SQLite | PostgreSQL, seed: str, counts: dict, label: str, workdir: Path) -> bool:
    """Print one backend's figures for one seed; return False when the runs disagree."""
    tokens = counts["tokens"]
    print(
        f"\n{db.name}, {label}: {tokens:,} tokens of {counts['users']:,} users"
        f" ({counts['blacklisted']:,} blacklisted); {counts['expired']:,} expired at margin 0"
        f" ({counts['expired_blacklisted']:,} of them blacklisted); {ROUNDS} rounds;"
        f" TOKEN_CLEANUP_BATCH_SIZE={BATCH_SIZE or 'default'}",
        flush=True,
    )
    load = Load()
    runs: dict[str, list[dict]] = {"ours": [], "flush": [], "floor": []}
    left: dict[str, set] = {action: set() for action in runs}
    agree = True
    for round_ in range(ROUNDS):
        pair = ["ours", "flush"] if round_ % 2 == 0 else ["flush", "ours"]
        for action in [*pair, "floor"]:
            url = db.copy(seed, action)
            run = run_child(action, url, workdir)
            runs[action].append(run)
            left[action].add(db.remaining(url))
            db.drop(url)
        summary = runs["ours"][-1]["summary"]
        agree &= (
            summary["outstanding_deleted"] == counts["expired"]
            and summary["blacklisted_deleted"] == counts["expired_blacklisted"]
            and summary["scanned"] == tokens
            and summary["undecodable"] == 0
        )
    loaded = load.stop()
    (expected,) = left["ours"] or {None}
    agree &= left["ours"] == left["flush"] == left["floor"] == {expected}
    agree &= expected[:2] == (
        tokens - counts["expired"],
        counts["blacklisted"] - counts["expired_blacklisted"],
    )
    print(f"  {loaded}")
    print(f"  {'':<38} {'whole command':>13}   {'in-process':>13}   peak RSS")
    print(f"  {'':<38} {'min median':>13}   {'min median':>13}")
    names = {
        "ours": "clean_blacklisted_tokens (ours)",
        "flush": "flushexpiredtokens (anchor)",
        "floor": "raw SQL DELETE by expires_at (floor)",
    }
    figures = {}
    for action, name in names.items():
        whole = [run["whole"] for run in runs[action]]
        inner = [run["inprocess"] for run in runs[action]]
        rss = max(run["rss_kb"] for run in runs[action])
        figures[action] = (min(whole), statistics.median(whole), min(inner), rss)
        figures[action] += (statistics.median(inner),)
        shown_whole = seconds(whole) if action != "floor" else f"{'-':>13}"
        print(f"  {name:<38} {shown_whole}   {seconds(inner)}   {mb(rss)}")
    ours, flush, floor = figures["ours"], figures["flush"], figures["floor"]
    ratio_whole = (ours[0] / flush[0], ours[1] / flush[1])
    ratio_inner = (ours[2] / flush[2], ours[4] / flush[4])
    ratio_floor = (ours[2] / floor[2], ours[4] / floor[4])
    print(
        f"  ours / flush   {ratio_whole[0]:.2f} {ratio_whole[1]:.2f} (target <= {WHOLE_TARGET},"
        f" stretch {WHOLE_STRETCH}: {verdict(ratio_whole[0], WHOLE_TARGET)})"
        f"   {ratio_inner[0]:.2f} {ratio_inner[1]:.2f}"
    )
    print(
        f"  ours / floor {'':>36}{ratio_floor[0]:.2f} {ratio_floor[1]:.2f}"
        f" (target <= {FLOOR_TARGET}: {verdict(ratio_floor[0], FLOOR_TARGET)})"
    )
    print(f"  rows left agree across the three and with the seed: {'yes' if agree else 'NO'}")
    return agree


def verdict(ratio: float, target: float) -> str:
    return "OK" if ratio <= target else "MISSED"


def rss_pair(db: SQLite | PostgreSQL, seeds: dict, workdir: Path) -> None:
    """Print our peak RSS at each RSS size (one run each) and the largest / smallest ratio."""
    rss = {}
    for count in RSS_SIZES:
        url = db.copy(seeds[count], f"rss_{count}")
        rss[count] = run_child("ours", url, workdir)["rss_kb"]
        db.drop(url)
    small, large = min(RSS_SIZES), max(RSS_SIZES)
    ratio = rss[large] / rss[small]
    figures = ", ".join(f"{count:,} tokens {mb(kb)}" for count, kb in rss.items())
    print(
        f"\n{db.name}: peak RSS of ours: {figures}; ratio {ratio:.2f}"
        f" (target <= {RSS_TARGET}: {verdict(ratio, RSS_TARGET)})"
    )


def backends(workdir: Path) -> list:
    chosen: list = []
    if "sqlite" in BACKENDS:
        chosen.append(SQLite(workdir))
    if "postgresql" in BACKENDS:
        try:
            chosen.append(PostgreSQL(POSTGRES_URL, workdir))
        except Exception as error:  # no server here: say so, bench the rest
            print(f"PostgreSQL skipped: {type(error).__name__}: {error}".splitlines()[0])
    return chosen


def main() -> int:
    ok = True
    now = int(time.time())
    with tempfile.TemporaryDirectory(prefix="bench_tokens_") as tmp:
        workdir = Path(tmp)
        chosen = backends(workdir)
        seeds: dict = {db.name: {} for db in chosen}
        try:
            for count in sorted(set(SIZES) | set(RSS_SIZES)):
                variants = [("realistic", False), ("sequential jti (labelled extra)", True)]
                for label, sequential in variants[: 1 + (SEQUENTIAL and count in SIZES)]:
                    started = time.perf_counter()
                    folder = workdir / f"tsv_{count}_{int(sequential)}"
                    counts = generate(count, now, folder, sequential=sequential)
                    check_signature(folder)
                    took = time.perf_counter() - started
                    print(f"\nseed: {count:,} tokens ({label}), generated in {took:.1f} s")
                    for db in chosen:
                        started = time.perf_counter()
                        seed = db.load(folder, f"{count}_{int(sequential)}")
                        print(f"  loaded into {db.name} in {time.perf_counter() - started:.1f} s")
                        if count in SIZES:
                            ok &= compare(db, seed, counts, f"{label} seed", workdir)
                        if not sequential:
                            seeds[db.name][count] = seed
                    shutil.rmtree(folder)
            if len(RSS_SIZES) > 1:
                for db in chosen:
                    rss_pair(db, seeds[db.name], workdir)
        finally:
            for db in chosen:
                db.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--command"]:
        command_child(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--floor"]:
        floor_child(sys.argv[2])
    else:
        sys.exit(main())
