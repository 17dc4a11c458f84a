"""Signed tokens in members' links: no account, no stored secret, one salt per purpose.

Each token carries the time it was signed and the member's `link_generation`: preference and digest
links expire after `MEMBER_LINK_MAX_AGE_DAYS`, unsubscribe links never do (RFC 8058: the link in an old
email must still work), and bumping the generation (`member_revoke_links`) retires all three.
"""

import functools
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
DIGEST = "digest"
_PURPOSES = frozenset({UNSUBSCRIBE, PREFERENCES, DIGEST})
_NEVER_EXPIRE = frozenset({UNSUBSCRIBE})


class LinkExpired(Exception):
    """The token is genuine but older than `MEMBER_LINK_MAX_AGE_DAYS`."""


@dataclass(frozen=True)
class TokenValue:
    value: int  # a member or delivery id
    generation: int  # the member's `link_generation` when the link was made


def _salt(purpose: str) -> str:
    if purpose not in _PURPOSES:
        raise ValueError(f"Unknown token purpose {purpose!r}")
    return f"bargaining.tokens.{purpose}"


def _signer(purpose: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_salt(purpose))


def link_max_age_seconds() -> int:
    return settings.MEMBER_LINK_MAX_AGE_DAYS * 24 * 60 * 60


def make_token(purpose: str, value: int, generation: int = 0) -> str:
    """A URL-safe token carrying `value` and the member's link generation that only this site can sign.

    Exactly what `_signer(purpose).sign(...)` returns (value:timestamp:signature), but with the HMAC keyed
    once per purpose and secret: a digest run signs three tokens per member, and Django's signer derives
    the same key again for every one of them.
    """
    # The clock TimestampSigner reads (django.core.signing's `time`), so both sign and check the same seconds.
    now = int(signing.time.time())
    signed = f"{signing.b62_encode(value)}.{signing.b62_encode(generation)}:{signing.b62_encode(now)}"
    mac = _keyed(_salt(purpose), settings.SECRET_KEY).copy()
    mac.update(signed.encode())
    return f"{signed}:{signing.b64_encode(mac.digest()).decode()}"


@functools.lru_cache(maxsize=16)
def _keyed(salt: str, secret: str) -> hmac.HMAC:
    # Django's Signer.signature: salted_hmac(salt + "signer", value, SECRET_KEY, sha256), keyed here with no value yet.
    return salted_hmac(salt + "signer", b"", secret, algorithm="sha256")


def read_token_value(purpose: str, token: str) -> TokenValue | None:
    """What `token` carries, or None when it is tampered with or signed for another purpose.

    Raises LinkExpired for a genuine preference or digest token past its age.
    """
    max_age = None if purpose in _NEVER_EXPIRE else link_max_age_seconds()
    try:
        payload = _signer(purpose).unsign(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except (signing.BadSignature, ValueError):
        return None
    value, _, generation = payload.partition(".")
    try:
        return TokenValue(signing.b62_decode(value), signing.b62_decode(generation))
    except ValueError:
        return None


def read_token(purpose: str, token: str) -> int | None:
    """The value inside `token`, or None when it is tampered with, for another purpose, or expired."""
    try:
        read = read_token_value(purpose, token)
    except LinkExpired:
        return None
    return read.value if read is not None else None
