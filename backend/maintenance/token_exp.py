"""The `exp` claim of a stored JWT, read without verifying it: what the token cleanup judges by."""

import binascii
import functools
import json
import math

import jwt

# base64url -> standard base64; a stray "+" or "/" (not base64url) becomes "!", which the
# strict decoder rejects, so only well-formed base64url payloads are read.
_BASE64URL = bytes.maketrans(b"-_+/", b"+/!!")
_JSON_SPACE = " \t\n\r"
_scan_json = json.JSONDecoder().scan_once  # (value, end) of the JSON value at an index


def _segment(text: str) -> bytes:
    """A base64url segment decoded as pyjwt takes it: canonical, padded only to a multiple of 4.

    Raises ValueError (binascii.Error is one) for anything else; read_exp only needs to
    know that, so the errors carry no message.
    """
    stripped = text.rstrip("=")
    if len(text) - len(stripped) > 2 or (len(stripped) != len(text) and len(text) % 4):
        raise ValueError  # padding pyjwt refuses
    padded = (stripped + "=" * (-len(stripped) % 4)).encode("ascii").translate(_BASE64URL)
    raw = binascii.a2b_base64(padded)
    # Encoding it back must give the same text: this refuses set unused bits and, as the
    # lenient decoder skips them, any character outside the alphabet.
    if binascii.b2a_base64(raw, newline=False) != padded:
        raise ValueError
    return raw


@functools.lru_cache(maxsize=64)
def _header_ok(header: str) -> bool:
    """Whether pyjwt takes this header segment (cached: a table's tokens share a few headers)."""
    try:
        claims = jwt.get_unverified_header(f"{header}.e30.")  # "e30" is the payload {}
    except jwt.PyJWTError:
        return False
    return claims.get("b64", True) is not False  # b64 false needs a detached payload


def read_exp(token: str) -> int | float | None:
    """Return the `exp` claim of a JWT, or None when it cannot be read as a finite number.

    The signature is deliberately not verified: signing keys rotate (and algorithms
    change), so old tokens may no longer verify; the token comes from our own database,
    not from a client; and it is never used here to authenticate anyone, only to learn
    when it stops mattering. A plain base64 + JSON read of the payload is also several
    times faster than a full `jwt.decode`, which matters at millions of rows.
    """
    try:
        header, payload, signature = token.split(".")
        if not _header_ok(header):
            return None
        _segment(signature)  # pyjwt decodes all three segments, verified or not
        raw = _segment(payload)
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
        # Not three segments, non-ASCII, base64 pyjwt refuses, bad UTF-8 or JSON, JSON
        # nested too deeply to parse, not an object, no exp; or no text (None: not UTF-8).
        return None
    if exp.__class__ is int or (exp.__class__ is float and math.isfinite(exp)):
        return exp
    return None  # a string, a bool, null, a list, NaN or infinity
