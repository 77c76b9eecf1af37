"""Logins and refreshes through the real JWT endpoints while the token cleanup runs (PostgreSQL).

    .venv/bin/python benchmarks/bench_token_traffic.py      (also run by `make bench`)

Knobs (environment): BENCH_TRAFFIC_TOKENS (default 1000000), BENCH_TRAFFIC_RATE (requests
a second, default 50), BENCH_TRAFFIC_BASELINE_S (default 30), BENCH_TRAFFIC_FLUSH=1 (adds a
phase under `flushexpiredtokens`), BENCH_TRAFFIC_URL (default
postgres://postgres@127.0.0.1:5432/pm_bench_traffic; its databases are pm_bench_traffic_*,
dropped at the end; nothing answering there: one line, exit 0).

The table is bench_tokens' realistic seed (uuid4 `jti`s, many users, `exp` from -30 to +10
days, half blacklisted), plus 16 users the load logs in as. Each phase gets a fresh copy of
it and a fresh web server on a free loopback port: gunicorn, 2 sync workers (one per core),
DATABASE_CONN_MAX_AGE=60 as in production, serving the project's WSGI app with one change:
the MD5 password hasher, as tests/api/test_auth.py does (the subject is the token tables,
not PBKDF2's million rounds at each login). The load is open-loop: request i is due at
start + i / rate, whatever the answers before it; each of 16 clients logs in, then
refreshes its refresh token (rotation and blacklist-after-rotation are on: each refresh
writes an OutstandingToken and a BlacklistedToken row), and logs in again every 10th
request. A request's latency runs from when it was due to its answer, so a stalled server
counts in full. The load is bounded: at most rate x 600 s requests a phase, and a phase
ends by 600 s whatever happens.

Phases: no cleanup (BENCH_TRAFFIC_BASELINE_S of load); `manage.py clean_blacklisted_tokens`
at margin 0 (the load runs from 3 s before it starts to its end; the figures are the
requests due while it ran); no cleanup again, to show how the machine drifted. Every
refresh token the load was given must still be stored afterwards. Targets: 0 errors, p99
during the cleanup <= 1.5 x the mean p99 without. On a shared machine the cleanup's own
CPU competes with the server's: read the load average printed beside each phase.
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import jwt

sys.path[:0] = [str(Path(__file__).resolve().parent)]
import bench_tokens  # noqa: E402  (the realistic seed, its loader and the load sampler)

TOKENS = int(os.environ.get("BENCH_TRAFFIC_TOKENS", "1000000"))
RATE = float(os.environ.get("BENCH_TRAFFIC_RATE", "50"))
BASELINE_S = float(os.environ.get("BENCH_TRAFFIC_BASELINE_S", "30"))
FLUSH = os.environ.get("BENCH_TRAFFIC_FLUSH", "") == "1"
URL = os.environ.get("BENCH_TRAFFIC_URL", "postgres://postgres@127.0.0.1:5432/pm_bench_traffic")
CLIENTS = 16
PASSWORD = "load-password"
WARM_UP_S = 3.0
PHASE_CAP_S = 600.0
P99_TARGET = 1.5
SETTINGS = """from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
"""
MAKE_USERS = f"""
from django.contrib.auth import get_user_model
for n in range({CLIENTS}):
    get_user_model().objects.create_user(f"load{{n}}", password="{PASSWORD}")
"""


def env_for(database_url: str, workdir: Path) -> dict:
    return bench_tokens.child_env(database_url, workdir) | {
        "DJANGO_SETTINGS_MODULE": "bench_traffic_settings",
        "DATABASE_CONN_MAX_AGE": "60",  # as in production: no new PostgreSQL backend per request
        "PYTHONPATH": f"{workdir}{os.pathsep}{bench_tokens.BACKEND}",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn serving the project on a free loopback port, until stopped."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.port = free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log = (workdir / "gunicorn.log").open("w")
        self.process = subprocess.Popen(
            [gunicorn, "config.wsgi:application", "-b", f"127.0.0.1:{self.port}", "-w", "2"],
            cwd=bench_tokens.BACKEND,
            env=env_for(database_url, workdir),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn exited ({self.process.returncode}); see its log")
            try:
                if post(self.port, "/api/auth/token/", {"username": "load0", "password": "x"})[0]:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        sys.exit("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def post(port: int, path: str, body: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body)
        connection.request("POST", path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if response.status == 200 else {})
    finally:
        connection.close()


class Traffic:
    """Open-loop logins and refreshes at RATE a second, from CLIENTS threads."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.start = time.monotonic() + 0.2
        self.tickets = iter(range(10**9))
        self.lock = threading.Lock()
        self.stop_at = self.start + PHASE_CAP_S
        self.results: list[tuple[float, float, str]] = []  # (due, latency, error or "")
        self.issued: list[str] = []  # jti of every refresh token the load was given
        self.threads = [threading.Thread(target=self.client, args=(n,)) for n in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def client(self, number: int) -> None:
        refresh, sent = None, 0
        while True:
            with self.lock:
                due = self.start + next(self.tickets) / RATE
            if due >= self.stop_at:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            login = refresh is None or sent % 10 == 0
            sent += 1
            try:
                if login:
                    body = {"username": f"load{number}", "password": PASSWORD}
                    status, data = post(self.port, "/api/auth/token/", body)
                else:
                    status, data = post(self.port, "/api/auth/token/refresh/", {"refresh": refresh})
                error = "" if status == 200 else f"HTTP {status}"
            except OSError as exc:
                status, data, error = 0, {}, type(exc).__name__
            done = time.monotonic()
            if status == 200:
                refresh = data["refresh"]
                jti = jwt.decode(refresh, options={"verify_signature": False})["jti"]
            else:
                refresh = jti = None
            with self.lock:
                self.results.append((due, done - due, error))
                if jti:
                    self.issued.append(jti)

    def finish(self) -> None:
        self.stop_at = time.monotonic()
        for thread in self.threads:
            thread.join()

    def figures(self, since: float, until: float) -> dict:
        window = [(latency, error) for due, latency, error in self.results if since <= due < until]
        latencies = sorted(latency for latency, _ in window)
        errors = [error for _, error in window if error]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0
        return {
            "requests": len(window),
            "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
            "p99_ms": 1000 * p99,
            "max_ms": 1000 * latencies[-1] if latencies else 0.0,
            "errors": len(errors),
            "kinds": sorted(set(errors)),
        }


def missing_tokens(database_url: str, jtis: list[str]) -> int:
    import psycopg

    with psycopg.connect(database_url) as db:
        found = db.execute(
            f"SELECT count(*) FROM {bench_tokens.OUTSTANDING} WHERE jti = ANY(%s)", [jtis]
        ).fetchone()[0]
    return len(set(jtis)) - found


def phase(db: bench_tokens.PostgreSQL, seed: str, workdir: Path, cleanup: str | None) -> dict:
    """One phase on a fresh copy and a fresh server; return its figures."""
    url = db.copy(seed, "phase")
    server = Server(url, workdir)
    load_average = bench_tokens.Load()
    try:
        load = Traffic(server.port)
        time.sleep(WARM_UP_S)
        since = time.monotonic()
        summary = None
        if cleanup is None:
            time.sleep(BASELINE_S)
        else:
            argv = [sys.executable, "manage.py", bench_tokens.COMMANDS[cleanup]]
            argv += ["--json"] if cleanup == "ours" else []
            done = subprocess.run(
                argv,
                cwd=bench_tokens.BACKEND,
                env=bench_tokens.child_env(url, workdir),
                capture_output=True,
                text=True,
                timeout=PHASE_CAP_S - 20,
            )
            if done.returncode != 0:
                sys.exit(f"{cleanup} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
            summary = json.loads(done.stdout) if cleanup == "ours" else None
        until = time.monotonic()
        time.sleep(1.0)
        load.finish()
    finally:
        server.stop()
    figures = load.figures(since, until)
    figures |= {"seconds": until - since, "load": load_average.stop(), "summary": summary}
    figures["all_errors"] = sum(1 for _, _, error in load.results if error)
    figures["missing"] = missing_tokens(url, load.issued)
    figures["issued"] = len(load.issued)
    db.drop(url)
    return figures


def main() -> int:
    parts = urlsplit(URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 5432), timeout=1).close()
    except OSError:
        print(f"traffic bench skipped: no PostgreSQL at {parts.hostname}:{parts.port or 5432}")
        return 0
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench_traffic_") as tmp:
        workdir = Path(tmp)
        (workdir / "bench_traffic_settings.py").write_text(SETTINGS)
        db = bench_tokens.PostgreSQL(URL, workdir)
        try:
            started = time.perf_counter()
            counts = bench_tokens.generate(TOKENS, int(time.time()), workdir / "tsv")
            seed = db.load(workdir / "tsv", "traffic")
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", MAKE_USERS],
                cwd=bench_tokens.BACKEND,
                env=env_for(db.url(seed), workdir),
                check=True,
            )
            print(
                f"traffic bench on postgresql: {TOKENS:,} tokens of {counts['users']:,} users,"
                f" {counts['expired']:,} expired at margin 0; {RATE:g} requests/s from"
                f" {CLIENTS} clients (logins and rotating refreshes) through gunicorn;"
                f" seeded in {time.perf_counter() - started:.0f} s"
            )
            phases = [
                ("no cleanup", None),
                ("during clean_blacklisted_tokens", "ours"),
                ("no cleanup, again", None),
                *[("during flushexpiredtokens", "flush")] * FLUSH,
            ]
            results = {name: phase(db, seed, workdir, cleanup) for name, cleanup in phases}
        finally:
            db.cleanup()
    print(f"  {'':<34} {'requests':>8} {'p50':>9} {'p99':>9} {'max':>9} errors  phase")
    for name, result in results.items():
        print(
            f"  {name:<34} {result['requests']:>8} {result['p50_ms']:7.1f}ms"
            f" {result['p99_ms']:7.1f}ms {result['max_ms']:7.1f}ms {result['errors']:>6}"
            f"  {result['seconds']:.1f} s, {result['load']}"
            + (f"; {', '.join(result['kinds'])}" if result["kinds"] else "")
        )
        ok &= result["all_errors"] == 0 and result["missing"] == 0
        print(
            f"  {'':<34} every refresh token given out still stored:"
            f" {'yes' if result['missing'] == 0 else 'NO'} ({result['issued']:,})"
        )
    ours = results["during clean_blacklisted_tokens"]
    baselines = [results["no cleanup"]["p99_ms"], results["no cleanup, again"]["p99_ms"]]
    ratio = ours["p99_ms"] / statistics.mean(baselines)
    verdict = "OK" if ratio <= P99_TARGET and ours["errors"] == 0 else "MISSED"
    print(
        f"  ours deleted {ours['summary']['outstanding_deleted']:,} outstanding rows in"
        f" {ours['seconds']:.1f} s; p99 during ours / mean p99 without = {ratio:.2f}"
        f" (target <= {P99_TARGET} and 0 errors: {verdict})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
