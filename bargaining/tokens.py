"""Signed tokens in members' links: no account, no stored secret, one salt per purpose."""

from django.core import signing

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
DIGEST = "digest"
_PURPOSES = frozenset({UNSUBSCRIBE, PREFERENCES, DIGEST})


def _signer(purpose: str) -> signing.Signer:
    if purpose not in _PURPOSES:
        raise ValueError(f"Unknown token purpose {purpose!r}")
    return signing.Signer(salt=f"bargaining.tokens.{purpose}")


def make_token(purpose: str, value: int) -> str:
    """A URL-safe token carrying `value` (a member or delivery id) that only this site can sign."""
    return _signer(purpose).sign(signing.b62_encode(value))


def read_token(purpose: str, token: str) -> int | None:
    """The value inside `token`, or None when it is tampered with or signed for another purpose."""
    try:
        return signing.b62_decode(_signer(purpose).unsign(token))
    except (signing.BadSignature, ValueError):
        return None
