"""Hypothesis profiles for the property tests, chosen by HYPOTHESIS_PROFILE (default `dev`).

- `dev`: few examples, for `make test` on a laptop; the example database in `.hypothesis/`
  replays earlier failures first.
- `ci`: at least 300 examples per property, derandomized so every CI run tests the same
  inputs (a failure is reproducible from the log alone), and no example database.

Filesystem and database work makes example times uneven, so no per-example deadline.
"""

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=300, derandomize=True, database=None, deadline=None, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_report_header() -> str:
    active = settings.default
    return (
        f"hypothesis profile: {os.environ.get('HYPOTHESIS_PROFILE', 'dev')} "
        f"(max_examples={active.max_examples}, derandomize={active.derandomize})"
    )
