"""Random token tables for the token property (test_tokens_properties.py): shapes, rows.

Each `Spec` is one row: a JWT signed by pyjwt under several keys and HMAC algorithms or
by simplejwt; an odd `exp` (missing, string, boolean, non-finite, huge); a payload that
is not an object, not JSON, nested deeply, in another encoding or tampered; or plain
text; with `expires_at` agreeing with `exp` or not, blacklisted or not. No value lies
within NEAR_S of the cutoff, so the property never tests the edge (test_token_cutoff.py).
"""

import base64
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from hypothesis import strategies as st
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

CUTOFF = datetime(2026, 2, 22, 2, 0, tzinfo=UTC)  # TOKENS_NOW - 7 days, written out
CUTOFF_TS = 1_771_725_600  # CUTOFF as POSIX seconds
NEAR_S = 2  # no exp or expires_at closer than this to the cutoff
SPREAD_S = 60 * 86_400

KEYS = tuple(f"property-test-signing-key-{n}-".ljust(64, "k") for n in range(3))
ALGORITHMS = ("HS256", "HS384", "HS512")
ENCODINGS = ("utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "surrogate")

# --- Strategies ----------------------------------------------------------------------

_offset_s = st.integers(NEAR_S, SPREAD_S) | st.floats(NEAR_S, SPREAD_S)
_exp = st.one_of(
    _offset_s.map(lambda s: CUTOFF_TS + s),
    _offset_s.map(lambda s: CUTOFF_TS - s),
)
# An `exp` claim that is not a usable number, or a number far outside any real lifetime.
_odd_exp = st.one_of(
    st.sampled_from(["missing", None, True, False, math.nan, math.inf, -math.inf, [], {}]),
    _exp.map(str),
    _exp.map(lambda exp: [exp]),
    st.integers(-(10**400), 10**400),  # JSON integers have no size limit
    st.floats(allow_nan=False, allow_infinity=False),
).filter(lambda exp: not isinstance(exp, int | float) or abs(exp - CUTOFF_TS) >= NEAR_S)
_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40)


@dataclass(frozen=True)
class Spec:
    """One row to insert: how to make its token, its `expires_at`, whether blacklisted."""

    shape: str
    exp: int | float
    blacklisted: bool
    expires_at_agrees: bool  # expires_at = exp when exp is a plausible number
    expires_at_offset_us: int  # otherwise CUTOFF + this, never within NEAR_S of it
    key: int = 0
    algorithm: str = "HS256"
    detail: object = None  # shape-specific: odd exp, text, bytes, depth, (position, char)


_NONE = st.none()
ODD_HEADERS = (
    {"alg": "HS256", "kid": 7},
    {"alg": "HS256", "kid": "key-1"},
    {"alg": "HS256", "b64": False, "crit": ["b64"]},
    {"alg": "HS256", "crit": ["b64"]},
    {"alg": "HS256", "crit": "b64"},
    {"alg": "HS256", "crit": ["exp"]},
    ["alg", "HS256"],
    {},
)


def _spec(shape: str, detail: st.SearchStrategy = _NONE) -> st.SearchStrategy[Spec]:
    offset_us = st.integers(NEAR_S * 10**6, SPREAD_S * 10**6)
    return st.builds(
        Spec,
        shape=st.just(shape),
        exp=_exp,
        blacklisted=st.booleans(),
        expires_at_agrees=st.booleans(),
        expires_at_offset_us=offset_us | offset_us.map(lambda us: -us),
        key=st.integers(0, len(KEYS) - 1),
        algorithm=st.sampled_from(ALGORITHMS),
        detail=detail,
    )


row = st.one_of(
    _spec("pyjwt"),
    _spec("simplejwt"),
    _spec("odd-exp", _odd_exp),
    _spec("not-object", st.one_of(st.lists(st.integers(), max_size=3), _text, st.integers())),
    _spec("not-json", st.binary(max_size=30)),
    # Nesting depth of a claim beside exp: parsable, or far deeper than any JSON parser
    # takes (json stops at the recursion limit, which Hypothesis raises while a test runs).
    # Depths near the limit are left out: whether they parse depends on how deep the
    # caller's stack already is, so pyjwt and the code under test may honestly disagree.
    _spec("deep", st.integers(1, 100) | st.integers(10_000, 20_000)),
    # The claims as JSON in another Unicode encoding, or with a UTF-8-encoded lone surrogate.
    _spec("encoded", st.sampled_from(ENCODINGS)),
    _spec("bad-payload", st.tuples(st.integers(0, 200), st.sampled_from("+/=!. é"))),
    # A character put into the header or the signature segment, or one of its last
    # characters changed (padding, unused bits), which pyjwt checks even unverified.
    _spec(
        "bad-segment",
        st.tuples(st.sampled_from((0, 2)), st.integers(0, 200), st.sampled_from("+/=!. éAQgw")),
    ),
    # Headers pyjwt refuses (a kid that is not a string, b64 false, crit) or takes.
    _spec("odd-header", st.sampled_from(ODD_HEADERS)),
    _spec("text", _text | st.lists(_text, min_size=2, max_size=4).map(".".join)),
)
batch_size = st.integers(1, 50)


# --- Making the tokens -----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assemble(payload: bytes) -> str:
    return ".".join([_b64(b'{"alg":"HS256","typ":"JWT"}'), _b64(payload), _b64(b"signature")])


def make_token(spec: Spec, index: int) -> str:
    claims = {"token_type": "refresh", "exp": spec.exp, "jti": f"prop-{index}", "user_id": "7"}
    if spec.shape == "pyjwt":
        return jwt.encode(claims, KEYS[spec.key], algorithm=spec.algorithm)
    if spec.shape == "simplejwt":
        token = RefreshToken()  # signed with the project's SIMPLE_JWT settings
        token["exp"], token["jti"] = int(spec.exp), f"prop-{index}"
        return str(token)
    if spec.shape == "odd-exp":
        if spec.detail == "missing":
            del claims["exp"]
        else:
            claims["exp"] = spec.detail
        return jwt.encode(claims, KEYS[spec.key], algorithm=spec.algorithm)
    if spec.shape == "not-object":
        return _assemble(json.dumps(spec.detail).encode())
    if spec.shape == "not-json":
        return _assemble(spec.detail)
    if spec.shape == "deep":
        depth = spec.detail
        return _assemble(b'{"exp": %d, "n": %s%s}' % (int(spec.exp), b"[" * depth, b"]" * depth))
    if spec.shape == "encoded":
        if spec.detail == "surrogate":
            return _assemble(b'{"exp": %d, "sub": "\xed\xa0\x80"}' % int(spec.exp))
        return _assemble(json.dumps({"exp": spec.exp}).encode(spec.detail))
    if spec.shape == "bad-payload":
        header, payload, signature = jwt.encode(claims, KEYS[spec.key], spec.algorithm).split(".")
        position, char = spec.detail
        position %= len(payload) + 1
        return ".".join([header, payload[:position] + char + payload[position:], signature])
    if spec.shape == "bad-segment":
        parts = jwt.encode(claims, KEYS[spec.key], spec.algorithm).split(".")
        segment, position, char = spec.detail
        text = parts[segment]
        position %= len(text) + 1
        replace = char.isalnum() and position < len(text)  # change a character, or insert one
        parts[segment] = text[:position] + char + text[position + replace :]
        return ".".join(parts)
    if spec.shape == "odd-header":
        header = _b64(json.dumps(spec.detail).encode())
        return ".".join([header, _b64(json.dumps(claims).encode()), _b64(b"signature")])
    assert spec.shape == "text", spec.shape
    return spec.detail


def make_expires_at(spec: Spec) -> datetime:
    if spec.expires_at_agrees and spec.shape in ("pyjwt", "simplejwt", "deep", "bad-payload"):
        exp = int(spec.exp) if spec.shape in ("simplejwt", "deep") else spec.exp
        return datetime.fromtimestamp(exp, UTC)
    return CUTOFF + timedelta(microseconds=spec.expires_at_offset_us)


def insert(specs: list[Spec]) -> None:
    OutstandingToken.objects.bulk_create(
        OutstandingToken(
            jti=f"prop-{index}", token=make_token(spec, index), expires_at=make_expires_at(spec)
        )
        for index, spec in enumerate(specs)
    )
    by_jti = dict(OutstandingToken.objects.values_list("jti", "pk"))
    BlacklistedToken.objects.bulk_create(
        BlacklistedToken(token_id=by_jti[f"prop-{index}"])
        for index, spec in enumerate(specs)
        if spec.blacklisted
    )
