"""read_exp: the payload's `exp`, read without the signature, or None when unusable."""

from collections.abc import Callable

import pytest

from maintenance.tokens import read_exp
from tests.maintenance.token_support import (
    HEADER,
    ROTATED_KEY,
    b64url,
    pyjwt_token,
    rotated,
    with_payload,
)

EXP = 1771725600  # 2026-02-22 02:00:00 UTC
EXP_PAYLOAD = b64url(b'{"exp": 1771725600}')  # 26 characters: 4 unused bits at the end
SIGNATURE = b64url(b"signature")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The same payload with one of the last character's unused bits set: it decodes to the
# same bytes, but it is not the encoding of anything, and pyjwt refuses it.
UNUSED_BITS_SET = EXP_PAYLOAD[:-1] + ALPHABET[ALPHABET.index(EXP_PAYLOAD[-1]) | 1]


def with_header(header: bytes) -> str:
    return f"{b64url(header)}.{EXP_PAYLOAD}.{SIGNATURE}"


@pytest.mark.parametrize(
    ("token", "exp"),
    [
        (lambda: pyjwt_token({"exp": EXP}), EXP),
        (lambda: pyjwt_token({"exp": EXP}, key=ROTATED_KEY), EXP),
        (lambda: rotated({"exp": EXP}, "HS384"), EXP),
        (lambda: rotated({"exp": EXP}, "HS512"), EXP),
        (lambda: pyjwt_token({"exp": EXP - 0.5}), EXP - 0.5),
        (lambda: pyjwt_token({"exp": -1}), -1),
        (lambda: with_payload(b'{"exp": 10000000000000000000000}'), 10**22),
        (lambda: with_payload(b' {"exp":1771725600} '), EXP),
        (lambda: with_payload('{"exp": 1771725600}'.encode("utf-16-le")), EXP),
        (lambda: with_payload('{"exp": 1771725600}'.encode("utf-8-sig")), EXP),
        (lambda: f"{HEADER}.{EXP_PAYLOAD}==.{SIGNATURE}", EXP),
        (lambda: with_header(b'{"alg": "HS256", "kid": "key-1"}'), EXP),
    ],
    ids=[
        "simplejwt-key-hs256",
        "rotated-key",
        "hs384",
        "hs512",
        "float",
        "negative",
        "huge-int",
        "json-with-spaces",
        "utf-16-json",
        "utf-8-bom-json",
        "padded-to-a-multiple-of-four",
        "string-kid",
    ],
)
def test_read_exp_returns_the_payload_exp_whatever_the_signature(
    token: Callable[[], str], exp: float
) -> None:
    assert read_exp(token()) == exp


@pytest.mark.parametrize(
    "token",
    [
        lambda: pyjwt_token({}),
        lambda: pyjwt_token({"exp": str(EXP)}),
        lambda: pyjwt_token({"exp": True}),
        lambda: pyjwt_token({"exp": None}),
        lambda: pyjwt_token({"exp": [EXP]}),
        lambda: with_payload(b'{"exp": NaN}'),
        lambda: with_payload(b'{"exp": Infinity}'),
        lambda: with_payload(b'{"exp": 1e400}'),
        lambda: with_payload(b"[1771725600]"),
        lambda: with_payload(b"1771725600"),
        lambda: with_payload(b'{"exp": 1771725600'),
        lambda: with_payload(b'{"exp": 1771725600} {"exp": 1}'),
        lambda: with_payload(b'{"exp": 1771725600}x'),
        lambda: with_payload(b""),
        lambda: with_payload(b"[" * 100_000 + b"]" * 100_000),
        lambda: with_payload(b'{"exp": 1771725600, "sub": "\xff"}'),
        lambda: "not a jwt at all",
        lambda: "",
        lambda: f"{HEADER}.{b64url(b'{}')}",
        lambda: pyjwt_token({"exp": EXP}) + ".extra",
        lambda: f"{HEADER}.e!!!.sig",
        lambda: f"{HEADER}.{EXP_PAYLOAD[:-1]}.sig",
        # Valid JSON with an exp, but in the standard alphabet ("+"), not base64url ("-").
        lambda: f"{HEADER}.eyJleHAiOiAxNzcxNzI1NTk5LCAic3ViIjogIn5+In0.sig",
        lambda: f"{HEADER}.eyJleHAiOjF9é.sig",
        # What a lenient base64 decoder would skip over and read anyway.
        lambda: f"{HEADER}.{EXP_PAYLOAD[:4]}+/+/{EXP_PAYLOAD[4:]}.sig",
        lambda: f"{HEADER}.{EXP_PAYLOAD[:4]}\n\n\n\n{EXP_PAYLOAD[4:]}.sig",
        # Whitespace JSON does not allow around the object (it allows space, tab, CR, LF).
        lambda: with_payload(b'\x0c{"exp": 1771725600}'),
        lambda: with_payload(b'{"exp": 1771725600}\x0b'),
        # What pyjwt checks even unverified (found by the property test, pyjwt 2.15).
        lambda: f"{HEADER}.{EXP_PAYLOAD}=.{SIGNATURE}",
        lambda: f"{HEADER}.{UNUSED_BITS_SET}.{SIGNATURE}",
        lambda: f"{HEADER}.{EXP_PAYLOAD}.{SIGNATURE}!",
        lambda: f"{HEADER}.{EXP_PAYLOAD}.{SIGNATURE[:-1]}",
        lambda: f"e!.{EXP_PAYLOAD}.{SIGNATURE}",
        lambda: with_header(b'{"alg": "HS256", "kid": 7}'),
        lambda: with_header(b'{"alg": "HS256", "b64": false, "crit": ["b64"]}'),
        lambda: with_header(b'["alg", "HS256"]'),
    ],
    ids=[
        "missing-exp",
        "string-exp",
        "bool-exp",
        "null-exp",
        "list-exp",
        "nan-exp",
        "infinite-exp",
        "overflowing-exp",
        "payload-is-a-list",
        "payload-is-a-number",
        "truncated-json",
        "trailing-json",
        "trailing-garbage",
        "empty-payload",
        "nested-too-deep",
        "invalid-utf8",
        "no-dots",
        "empty",
        "two-segments",
        "four-segments",
        "bad-base64-chars",
        "bad-base64-length",
        "standard-not-url-alphabet",
        "non-ascii",
        "standard-alphabet-in-whole-quads",
        "newlines-inside",
        "form-feed-before-json",
        "vertical-tab-after-json",
        "padding-to-no-multiple-of-four",
        "unused-bits-set",
        "bad-signature-chars",
        "signature-not-canonical",
        "bad-header-base64",
        "kid-not-a-string",
        "b64-false-header",
        "header-not-an-object",
    ],
)
def test_read_exp_returns_none_when_exp_is_not_a_finite_number(token: Callable[[], str]) -> None:
    assert read_exp(token()) is None
