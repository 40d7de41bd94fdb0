"""HS256 JSON Web Tokens for the sandbox's own logins, by PyJWT: only HS256 with the sandbox's
key is accepted (never `none`, never another algorithm named in the token's header)."""

from __future__ import annotations

from typing import Any

import jwt as pyjwt
from jwt.types import Options

# The sandbox reads the times itself, as upstream does (its `exp` is in milliseconds).
_NO_TIME_CHECKS: Options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                   "verify_aud": False, "verify_iss": False}


def encode(claims: dict[str, Any], key: bytes) -> str:
    return pyjwt.encode(claims, key, algorithm="HS256")


def decode(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims of a token signed with `key`, or None. Expiry is the caller's business."""
    try:
        claims = pyjwt.decode(token, key, algorithms=["HS256"], options=_NO_TIME_CHECKS)
    except pyjwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None
