"""Cleanup of simplejwt's token blacklist tables, judged by each JWT's own `exp`."""

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connections, router, transaction
from loguru import logger
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.token_exp import read_exp
from maintenance.token_sql import (
    bulk_delete_cache,
    chunks,
    count_where_in,
    delete_where_in,
    lock_outstanding,
    read_as_bytes,
    read_as_text,
)

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

    Expired iff `exp < now - margin`, strictly (simplejwt's `flushexpiredtokens` uses `<=`
    and no margin; we err on keeping). A row whose `exp` cannot be read, or whose token is
    not even text, is judged by `expires_at` (same cutoff), counted in `undecodable` and
    logged by id, never by its text. Rows are read `batch_size` at a time in primary-key
    order; each batch is one short transaction of one set-based DELETE per table, blacklist
    rows first, whose counts are the database's (docs/token-cleanup.md: why, and how
    `should_stop`, `interrupted_by`, `progress` and concurrent runs are counted).
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
    with bulk_delete_cache(using):  # SQLite: no cache spills mid-batch
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
        summary.blacklisted_deleted += count_where_in(BlacklistedToken, "token_id", ids, using)
        summary.outstanding_deleted += count_where_in(OutstandingToken, "id", ids, using)
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
