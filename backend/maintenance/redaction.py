"""JWT redaction: no token string reaches a log sink, the run history or a failed task.

The log sinks (config/logs.py), the history's `error` and the exception that leaves a run
all use these two functions, so one pattern decides what a token looks like.
"""

import re

# Three base64url segments, the first a JSON header ("eyJ" is base64 for '{"').
_JWT_PATTERN = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
REDACTED = "<redacted-jwt>"


def redact(text: str) -> str:
    """Replace every JWT-shaped substring of `text` with a fixed marker."""
    return _JWT_PATTERN.sub(REDACTED, text)


def redact_exception(exc: BaseException | None) -> BaseException | None:
    """Redact the JWTs in `exc`'s message, notes and chained exceptions, in place; return it.

    In place, so that the traceback and the exception's type (which retry rules match) stay.
    """
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.args = tuple(_redact_arg(arg) for arg in current.args)
        if hasattr(current, "__notes__"):
            current.__notes__ = [redact(str(note)) for note in current.__notes__]
        pending += [current.__cause__, current.__context__]
    return exc


def _redact_arg(arg: object) -> object:
    """`arg` redacted; anything else holding a JWT (bytes, a tuple) becomes its redacted repr."""
    if isinstance(arg, str):
        return redact(arg)
    text = repr(arg)
    redacted = redact(text)
    return arg if redacted == text else redacted
