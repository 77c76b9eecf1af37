"""Cleanup of simplejwt's token blacklist tables, judged by each JWT's own `exp`."""

import binascii
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connections, router, transaction
from loguru import logger
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.token_sql import (
    chunks,
    delete_where_in,
    lock_outstanding,
    read_as_bytes,
    read_as_text,
)

# base64url -> standard base64; a stray "+" or "/" (not base64url) becomes "!", which the
# strict decoder rejects, so only well-formed base64url payloads are read.
_BASE64URL = bytes.maketrans(b"-_+/", b"+/!!")
_JSON_SPACE = " \t\n\r"
_scan_json = json.JSONDecoder().scan_once  # (value, end) of the JSON value at an index
BATCH_ATTEMPTS = 3  # a batch whose foreign key still fails at commit is tried this often


@dataclass
class TokenCleanupSummary:
    """What one run of `delete_expired_tokens` saw and did (or, in a dry run, would do)."""

    scanned: int = 0
    expired: int = 0
    blacklisted_deleted: int = 0
    outstanding_deleted: int = 0
    undecodable: int = 0
    dry_run: bool = False
    completed: bool = True
    duration_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def read_exp(token: str) -> int | float | None:
    """Return the `exp` claim of a JWT, or None when it cannot be read as a finite number.

    The signature is deliberately not verified: signing keys rotate (and algorithms
    change), so old tokens may no longer verify; the token comes from our own database,
    not from a client; and it is never used here to authenticate anyone, only to learn
    when it stops mattering. A plain base64 + JSON read of the payload is also several
    times faster than a full `jwt.decode`, which matters at millions of rows.
    """
    try:
        _header, payload, _signature = token.split(".")
        padded = (payload + "=" * (-len(payload) % 4)).encode("ascii").translate(_BASE64URL)
        raw = binascii.a2b_base64(padded, strict_mode=True)
        # As json.loads(bytes) does: a UTF-8 BOM, UTF-16/32 and lone surrogates are read.
        # (Skipping the detection for the usual '{' + non-NUL start saves a call per token.)
        encoding = "utf-8" if raw[:1] == b"{" and raw[1:2] != b"\0" else json.detect_encoding(raw)
        text = raw.decode(encoding, "surrogatepass").strip(_JSON_SPACE)
        claims, end = _scan_json(text, 0)  # json.loads without its per-call overhead
        if end != len(text):
            return None  # trailing data after the JSON value
        exp = claims["exp"]
    except (
        ValueError,
        TypeError,
        KeyError,
        StopIteration,
        AttributeError,
        binascii.Error,
        RecursionError,
    ):
        # Not three segments, non-ASCII, bad base64, UTF-8 or JSON, JSON nested too
        # deeply to parse, not an object, no exp; or no text at all (None: not UTF-8).
        return None
    if exp.__class__ is int or (exp.__class__ is float and math.isfinite(exp)):
        return exp
    return None  # a string, a bool, null, a list, NaN or infinity


def delete_expired_tokens(
    *,
    now: datetime,
    margin: timedelta,
    batch_size: int,
    dry_run: bool,
    should_stop: Callable[[], bool] = lambda: False,
    interrupted_by: tuple[type[BaseException], ...] = (),
    progress: Callable[[TokenCleanupSummary], None] | None = None,
) -> TokenCleanupSummary:
    """Delete the blacklist and outstanding rows of tokens whose `exp` is before `now - margin`.

    A token is expired iff `exp < now - margin`, strictly: one exactly at the margin is
    kept (simplejwt's `flushexpiredtokens` uses `<=` and no margin; we err on keeping).
    The JWT's `exp` decides even where the `expires_at` column disagrees; a row whose
    `exp` cannot be read, or whose token is not even text (bytes that are not UTF-8, which
    SQLite keeps), falls back to `expires_at` (same cutoff), and is counted in
    `undecodable` and logged by id, never by its text.

    Rows are read in primary-key order, `batch_size` at a time, with only the id and the
    token, so memory does not grow with the table. Each batch deletes its
    `BlacklistedToken` rows, then its `OutstandingToken` rows, in one short transaction,
    by plain `DELETE ... WHERE id IN (...)` (no cascade collector: the blacklist rows are
    already gone). The `*_deleted` counts are the database's row counts, so a row another
    run deleted first is not an error and not counted, and concurrent runs add up to one
    clean run. `should_stop` is polled between batches; when it returns True the run ends
    early with `completed=False`, keeping every committed batch. An exception of a type in
    `interrupted_by` (Celery's `SoftTimeLimitExceeded`, raised asynchronously) ends the run
    the same way: the batch it lands in rolls back whole, the committed ones stay, and the
    `*_deleted` counts cover exactly the committed batches. `progress`, if given, is called
    with the summary so far after each batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if margin < timedelta(0):
        raise ValueError(f"margin must not be negative, got {margin}")
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    started = time.perf_counter()
    cutoff = now - margin
    cutoff_ts = cutoff.timestamp()
    summary = TokenCleanupSummary(dry_run=dry_run)
    using = router.db_for_write(OutstandingToken)
    tokens = OutstandingToken.objects.using(using).order_by("pk")
    read_batch = read_as_bytes if connections[using].vendor == "sqlite" else read_as_text
    last_pk = 0
    while True:
        if should_stop():
            summary.completed = False
            logger.info("clean_blacklisted_tokens stopped early after id {}", last_pk)
            break
        try:
            rows = read_batch(tokens.filter(pk__gt=last_pk), batch_size)
            if not rows:
                break
            summary.scanned += len(rows)
            expired_ids = []
            undecodable_ids = []
            for pk, token in rows:
                exp = read_exp(token)
                if exp is None:
                    undecodable_ids.append(pk)
                elif exp < cutoff_ts:
                    expired_ids.append(pk)
            if undecodable_ids:
                expired_ids += _judge_by_expires_at(undecodable_ids, cutoff, using)
                summary.undecodable += len(undecodable_ids)
            summary.expired += len(expired_ids)
            if expired_ids:
                _delete_batch(expired_ids, summary, using)
        except interrupted_by as exc:
            summary.completed = False
            logger.warning(
                "clean_blacklisted_tokens interrupted ({}) after id {}; the batch after it "
                "rolled back, the next run finishes the job",
                type(exc).__name__,
                last_pk,
            )
            break
        last_pk = rows[-1][0]
        if progress is not None:
            progress(summary)
    summary.duration_s = round(time.perf_counter() - started, 6)
    logger.info("clean_blacklisted_tokens summary: {}", summary.as_dict())
    return summary


def _judge_by_expires_at(ids: list[int], cutoff: datetime, using: str) -> list[int]:
    """Log each row whose `exp` is unreadable; return those whose `expires_at` is before cutoff."""
    for pk in ids:
        logger.warning("outstanding token id={} has no readable exp; judged by expires_at", pk)
    expired = []
    for chunk in chunks(ids, using):
        expired += (
            OutstandingToken.objects.using(using)
            .filter(pk__in=chunk, expires_at__lt=cutoff)
            .values_list("pk", flat=True)
        )
    return sorted(expired)


def _delete_batch(ids: Sequence[int], summary: TokenCleanupSummary, using: str) -> None:
    """Delete one batch in one transaction: lock its outstanding rows, delete their blacklist
    rows, then them.

    A foreign key that still fails at commit (a blacklist row written in between where rows
    are not locked, or under REPEATABLE READ) runs the batch again, up to BATCH_ATTEMPTS times.
    """
    if summary.dry_run:
        for chunk in chunks(ids, using):
            summary.blacklisted_deleted += (
                BlacklistedToken.objects.using(using).filter(token_id__in=chunk).count()
            )
            summary.outstanding_deleted += (
                OutstandingToken.objects.using(using).filter(pk__in=chunk).count()
            )
        return
    attempt = 1
    while True:
        try:
            with transaction.atomic(using=using):
                lock_outstanding(ids, using)
                blacklisted = delete_where_in(BlacklistedToken, "token_id", ids, using)
                outstanding = delete_where_in(OutstandingToken, "id", ids, using)
            break
        except IntegrityError:
            if attempt == BATCH_ATTEMPTS:
                raise
            attempt += 1
            logger.warning(
                "clean_blacklisted_tokens: a blacklist row was written into the batch up to id {}"
                " while it was deleted; deleting it again (attempt {} of {})",
                max(ids),
                attempt,
                BATCH_ATTEMPTS,
            )
    summary.blacklisted_deleted += blacklisted
    summary.outstanding_deleted += outstanding
