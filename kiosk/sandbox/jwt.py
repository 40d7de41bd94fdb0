"""HS256 JSON Web Tokens, enough for the sandbox to issue and check its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any], key: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def decode(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims of a token signed with `key`, or None. Expiry is the caller's business."""
    try:
        header, body, signature = token.split(".")
        expected = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        if json.loads(_unb64(header)).get("alg") != "HS256":
            return None
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None
