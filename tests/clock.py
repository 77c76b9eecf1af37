"""The tests' one clock: every frozen instant a test runs at, written out as a literal."""

from datetime import UTC, datetime, timedelta


def utc(*args: int) -> datetime:
    """`utc(2026, 3, 1, 3)`: an aware UTC datetime, for literal instants in tests."""
    return datetime(*args, tzinfo=UTC)


MEDIA_NOW = utc(2026, 3, 1, 3)  # a Sunday at 03:00 UTC: the weekly media fire time
TOKENS_NOW = utc(2026, 3, 1, 2)  # 02:00 UTC: the daily token fire time
WEEK = timedelta(days=7)  # the default max age and safety margin

# Clearly either side of the 7-day cutoffs; the edges have their own modules
# (tests/maintenance/test_media_cutoff.py, tests/maintenance/test_token_cutoff.py).
OLD = timedelta(days=8)  # a media file's age: older than a week
YOUNG = timedelta(days=1)
LONG_AGO = utc(2026, 1, 1)  # a token's exp: expired long before any margin
NEXT_MONTH = utc(2026, 4, 1)  # a token's exp: not expired at all

# The test database's deployment "started" (its maintenance migration was applied)
# before every literal now above (tests/conftest.py, maintenance/health.py).
SYSTEM_STARTED = utc(2026, 1, 1)
