"""clean_blacklisted_tokens against simplejwt's flushexpiredtokens and a raw SQL floor.

    .venv/bin/python benchmarks/bench_tokens.py        (also run by `make bench`)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pm_bench \
        .venv/bin/python benchmarks/bench_tokens.py

Seeds BENCH_TOKENS (default 200,000) OutstandingToken rows holding real HS256 refresh JWTs
(built with hmac, as simplejwt would sign them), half of them blacklisted, `exp` spread
evenly from -30 to +10 days, none within an hour of a boundary (now, now - 7 days), by
bulk insert into a migrated database. Then, on identical copies (SQLite: a file copy;
PostgreSQL: CREATE DATABASE ... TEMPLATE), each in a fresh child process, it times at
margin 0:

- ours: `manage.py clean_blacklisted_tokens --json` (TOKEN_CLEANUP_SAFETY_MARGIN_DAYS=0);
- the anchor: `manage.py flushexpiredtokens`;
- the floor: two raw `DELETE ... WHERE expires_at < now` statements in one transaction.

Times are taken inside each child around `call_command` (or the SQL), so interpreter and
Django start-up are left out of all three alike. The rows left in both tables must be
the same in all three copies, and our summary's counts must match; otherwise the bench
exits non-zero. Then it seeds 100k and 400k tokens and prints our command's peak RSS
(the child's own `ru_maxrss`) at each, and their ratio.

Runs on SQLite always, and on PostgreSQL too when DATABASE_URL names a PostgreSQL server:
its databases are named after the one in the URL (pm_bench -> pm_bench_seed_200000, ...)
and dropped at the end. Targets: time <= 0.6 x flushexpiredtokens; RSS 400k / 100k <= 1.2.
"""

import base64
import hashlib
import hmac
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
BACKEND = REPO / "backend"
TOKENS = int(os.environ.get("BENCH_TOKENS", "200000"))
ROUNDS = int(os.environ.get("BENCH_TOKENS_ROUNDS", "3"))
RSS_SIZES = (100_000, 400_000)
DAY = 86_400
HOUR = 3_600
MARGIN_DAYS = 7
SECRET = "bench-secret-key-not-for-production-0123456789abcdef"
OUTSTANDING = "token_blacklist_outstandingtoken"
BLACKLIST = "token_blacklist_blacklistedtoken"
TIME_TARGET = 0.6
RSS_TARGET = 1.2


# --- the child: one measured action in a fresh process ----------------------------------


def child(action: str) -> None:
    """Run one action against DATABASE_URL; print its time, RSS and result as JSON."""

    sys.path.insert(0, str(BACKEND))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command, get_commands, load_command_class
    from django.db import connection, transaction
    from django.utils import timezone

    # Import and build the command before the clock starts, as start-up is left out.
    name = {"ours": "clean_blacklisted_tokens", "flush": "flushexpiredtokens"}.get(action)
    command = load_command_class(get_commands()[name], name) if name else None
    out = io.StringIO()
    started = time.perf_counter()
    if action == "ours":
        call_command(command, "--json", stdout=out)
        result = json.loads(out.getvalue())
    elif action == "flush":
        call_command(command, stdout=out)
        result = {}
    else:  # the floor: what the database alone needs
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {BLACKLIST} WHERE token_id IN"
                f" (SELECT id FROM {OUTSTANDING} WHERE expires_at < %s)",
                [now],
            )
            cursor.execute(f"DELETE FROM {OUTSTANDING} WHERE expires_at < %s", [now])
        result = {}
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rss_kb": peak_rss_kb(), "result": result}))


def peak_rss_kb() -> int:
    """This process's peak resident set size, in KiB.

    VmHWM is the high-water mark of this process image only. `ru_maxrss` is not used:
    Linux carries a parent's RSS across fork + exec into the child's `ru_maxrss`.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_child(action: str, database_url: str, workdir: Path) -> dict:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "TOKEN_CLEANUP_SAFETY_MARGIN_DAYS": "0",
        "DJANGO_SECRET_KEY": SECRET,
        "LOG_DIR": str(workdir / "logs"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_DEBUG", None)
    done = subprocess.run(
        [sys.executable, __file__, "--child", action],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def migrate(database_url: str, workdir: Path) -> None:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": SECRET,
        "LOG_DIR": str(workdir / "logs"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BACKEND,
        env=env,
        check=True,
    )


# --- the seed ---------------------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


HEADER = b64url(b'{"alg":"HS256","typ":"JWT"}')


def refresh_jwt(exp: int, jti: str) -> str:
    """A real HS256 refresh JWT, shaped and signed as simplejwt signs one."""
    claims = {"token_type": "refresh", "exp": exp, "iat": exp - DAY, "jti": jti, "user_id": "1"}
    signing_input = f"{HEADER}.{b64url(json.dumps(claims, separators=(',', ':')).encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def seed_rows(count: int, now: int, counts: dict) -> Iterator[tuple]:
    """Yield (id, jti, token, created_at, expires_at, blacklisted) for `count` tokens.

    Even ids are blacklisted. `counts` gets how many expire before `now` at margin 0,
    and how many of those are blacklisted.
    """
    rng = random.Random(count)
    counts.update(expired=0, expired_blacklisted=0)
    for pk in range(1, count + 1):
        while True:
            offset = rng.randint(-30 * DAY, 10 * DAY)
            if abs(offset) >= HOUR and abs(offset + MARGIN_DAYS * DAY) >= HOUR:
                break
        exp = now + offset
        counts["expired"] += offset < 0
        counts["expired_blacklisted"] += offset < 0 and pk % 2 == 0
        jti = f"{pk:032x}"
        expires_at = datetime.fromtimestamp(exp, UTC).replace(tzinfo=None)
        created_at = datetime.fromtimestamp(exp - DAY, UTC).replace(tzinfo=None)
        yield pk, jti, refresh_jwt(exp, jti), created_at, expires_at, pk % 2 == 0


def insert(kind: str, target: str, count: int, now: int) -> dict:
    """Bulk-insert the seed into a migrated, empty database; return its counts.

    Runs in its own process, so the parent stays small and its children's peak RSS
    figures are their own.
    """
    counts: dict = {}
    rows = seed_rows(count, now, counts)
    if kind == "sqlite":
        import sqlite3

        blacklist = []
        with sqlite3.connect(target) as db:
            db.executemany(
                f"INSERT INTO {OUTSTANDING} (id, user_id, jti, token, created_at, expires_at)"
                " VALUES (?, NULL, ?, ?, ?, ?)",
                (
                    (pk, jti, token, str(created), str(expires))
                    for pk, jti, token, created, expires, blacklisted in rows
                    if not blacklisted or blacklist.append((pk // 2, pk, str(created))) is None
                ),
            )
            db.executemany(
                f"INSERT INTO {BLACKLIST} (id, token_id, blacklisted_at) VALUES (?, ?, ?)",
                blacklist,
            )
        return counts
    import psycopg

    blacklist = []
    with psycopg.connect(target) as db, db.cursor() as cursor:
        columns = "(id, user_id, jti, token, created_at, expires_at)"
        with cursor.copy(f"COPY {OUTSTANDING} {columns} FROM STDIN") as copy:
            for pk, jti, token, created, expires, blacklisted in rows:
                copy.write_row((pk, None, jti, token, f"{created}Z", f"{expires}Z"))
                if blacklisted:
                    blacklist.append((pk // 2, pk, f"{created}Z"))
        with cursor.copy(f"COPY {BLACKLIST} (id, token_id, blacklisted_at) FROM STDIN") as copy:
            for row in blacklist:
                copy.write_row(row)
        for table in (OUTSTANDING, BLACKLIST):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"
            )
    with psycopg.connect(target, autocommit=True) as db:
        db.execute("VACUUM ANALYZE")
    return counts


def insert_in_child(kind: str, target: str, count: int, now: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--seed", kind, target, str(count), str(now)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


class SQLite:
    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.base = workdir / "base.sqlite3"
        migrate(self.url(self.base), workdir)

    @staticmethod
    def url(path: Path) -> str:
        return f"sqlite:///{path}"

    def seed(self, count: int, now: int) -> tuple[str, dict]:
        path = self.workdir / f"seed_{count}.sqlite3"
        shutil.copyfile(self.base, path)
        return str(path), insert_in_child("sqlite", str(path), count, now)

    def copy(self, seed: str, label: str) -> str:
        path = self.workdir / f"{label}.sqlite3"
        shutil.copyfile(seed, path)
        return self.url(path)

    def remaining(self, url: str) -> tuple[int, int, int]:
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return _remaining(db.cursor())

    def cleanup(self) -> None:
        pass


class PostgreSQL:
    name = "postgresql"

    def __init__(self, database_url: str, workdir: Path) -> None:
        import psycopg

        self.parts = urlsplit(database_url)
        self.prefix = self.parts.path.lstrip("/") or "pm_bench"
        self.admin = psycopg.connect(self.url("postgres"), autocommit=True)
        self.created: list[str] = []
        self.base = self.create(f"{self.prefix}_base")
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

    def seed(self, count: int, now: int) -> tuple[str, dict]:
        database = self.create(f"{self.prefix}_seed_{count}", template=self.base)
        return database, insert_in_child("postgresql", self.url(database), count, now)

    def copy(self, seed: str, label: str) -> str:
        return self.url(self.create(f"{self.prefix}_{label}", template=seed))

    def remaining(self, url: str) -> tuple[int, int, int]:
        import psycopg

        with psycopg.connect(url) as db, db.cursor() as cursor:
            return _remaining(cursor)

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


# --- the comparison ---------------------------------------------------------------------


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MB"


def bench(db: SQLite | PostgreSQL, workdir: Path) -> bool:
    """Print one backend's figures; return False when the three runs disagree."""
    now = int(time.time())
    started = time.perf_counter()
    seed, counts = db.seed(TOKENS, now)
    expired, expired_blacklisted = counts["expired"], counts["expired_blacklisted"]
    print(
        f"tokens bench on {db.name}: {TOKENS} outstanding ({TOKENS // 2} blacklisted), "
        f"{expired} expired at margin 0 ({expired_blacklisted} of them blacklisted); "
        f"seeded in {time.perf_counter() - started:.1f} s; best of {ROUNDS} rounds"
    )
    actions = ["ours", "flush", "raw"]
    seconds: dict[str, list[float]] = {action: [] for action in actions}
    runs, left, agree = {}, {}, True
    for round_ in range(ROUNDS):
        for action in actions[round_ % 3 :] + actions[: round_ % 3]:  # rotate who goes first
            url = db.copy(seed, action)
            assert db.remaining(url)[:2] == (TOKENS, TOKENS // 2)
            runs[action] = run_child(action, url, workdir)
            seconds[action].append(runs[action]["seconds"])
            left[action] = db.remaining(url)
        summary = runs["ours"]["result"]
        agree &= (
            left["ours"] == left["flush"] == left["raw"]
            and left["ours"][:2] == (TOKENS - expired, TOKENS // 2 - expired_blacklisted)
            and summary["outstanding_deleted"] == expired
            and summary["blacklisted_deleted"] == expired_blacklisted
            and summary["scanned"] == TOKENS
            and summary["undecodable"] == 0
        )
    names = {
        "ours": "clean_blacklisted_tokens (ours)",
        "flush": "flushexpiredtokens (anchor)",
        "raw": "raw SQL DELETE by expires_at (floor)",
    }
    best = {action: min(times) for action, times in seconds.items()}
    for action, name in names.items():
        deleted = (TOKENS - left[action][0], TOKENS // 2 - left[action][1])
        print(
            f"  {name:<37} best {best[action]:6.2f} s  median"
            f" {statistics.median(seconds[action]):6.2f} s   deleted {deleted[0]} outstanding,"
            f" {deleted[1]} blacklisted   peak RSS {mb(runs[action]['rss_kb'])}"
        )
    print(f"  deleted counts and rows left agree across the three: {'yes' if agree else 'NO'}")
    ratio = best["ours"] / best["flush"]
    verdict = "OK" if ratio <= TIME_TARGET else "MISSED"
    print(f"  time ours / flushexpiredtokens = {ratio:.2f}  (target <= {TIME_TARGET}: {verdict})")
    print(f"  time ours / raw SQL floor      = {best['ours'] / best['raw']:.2f}")

    rss = {}
    for count in RSS_SIZES:
        seed, _ = db.seed(count, now)
        rss[count] = run_child("ours", db.copy(seed, f"rss_{count}"), workdir)["rss_kb"]
    small, large = RSS_SIZES
    ratio = rss[large] / rss[small]
    verdict = "OK" if ratio <= RSS_TARGET else "MISSED"
    print(
        f"  peak RSS of ours: {small // 1000}k tokens {mb(rss[small])}, {large // 1000}k tokens"
        f" {mb(rss[large])}; ratio {ratio:.2f}  (target <= {RSS_TARGET}: {verdict})"
    )
    return agree


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench_tokens_") as tmp:
        workdir = Path(tmp)
        backends: list = [SQLite(workdir)]
        database_url = os.environ.get("DATABASE_URL", "")
        if database_url.startswith(("postgres://", "postgresql://")):
            backends.append(PostgreSQL(database_url, workdir))
        try:
            for db in backends:
                ok &= bench(db, workdir)
        finally:
            for db in backends:
                db.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    elif sys.argv[1:2] == ["--seed"]:
        kind, target, count, now = sys.argv[2:6]
        print(json.dumps(insert(kind, target, int(count), int(now))))
    else:
        sys.exit(main())
