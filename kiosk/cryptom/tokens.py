"""Where the upstream access token lives, shared by every worker process of a host.

The token never leaves the server: it is kept in memory or in a file readable by the kiosk's
own user only, and the lock lets one process log in while the others wait and then reuse it.
A refused login is kept beside it, so that all the workers together wait before the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import math
import os
import threading
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from .. import clock
from .errors import AuthError, Unavailable
from .models import Refusal, Token

# Renew this long before upstream says the token expires, so a request never carries a token
# that dies on the way.
RENEW_MARGIN_SECONDS = 60.0
DEFAULT_TOKEN_SECONDS = 300.0
# After a refused login: the next one waits 30 s, then twice as long each time, at most 5 minutes.
LOGIN_PAUSE = (30.0, 300.0)
MAX_LEVEL = 16  # 30 s * 2 ** 16 is far past the longest pause


class TokenStore(Protocol):
    def load(self) -> Token | None: ...

    def save(self, token: Token | None) -> None: ...

    def lock(self) -> contextlib.AbstractContextManager[None]: ...

    def load_refusal(self) -> Refusal | None: ...

    def save_refusal(self, refusal: Refusal | None) -> None: ...


def _refusal(text: str | bytes | None) -> Refusal | None:
    try:
        data = json.loads(text) if text else None
        return Refusal(str(data["who"]), float(data["until"]), int(data["level"])) if data else None
    except (ValueError, KeyError, TypeError):
        return None


def _refusal_json(refusal: Refusal) -> str:
    return json.dumps({"who": refusal.who, "until": refusal.until, "level": refusal.level})


class MemoryTokenStore:
    """One process only: for tests and scripts."""

    def __init__(self) -> None:
        self._token: Token | None = None
        self._refusal: Refusal | None = None
        self._lock = threading.RLock()

    def load(self) -> Token | None:
        return self._token

    def save(self, token: Token | None) -> None:
        self._token = token

    def load_refusal(self) -> Refusal | None:
        return self._refusal

    def save_refusal(self, refusal: Refusal | None) -> None:
        self._refusal = refusal

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return self._lock  # type: ignore[return-value]


class FileTokenStore:
    """A JSON file (mode 0600) plus an flock, so the workers of one host log in once."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.path.with_suffix(self.path.suffix + ".lock")
        self._refusal_path = self.path.with_suffix(self.path.suffix + ".refused")
        self._thread_lock = threading.RLock()

    def load(self) -> Token | None:
        try:
            data = json.loads(self.path.read_text())
            return Token(access_token=str(data["access_token"]), expires_at=float(data["expires_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, token: Token | None) -> None:
        if token is None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self._write(self.path, json.dumps({"access_token": token.access_token,
                                           "expires_at": token.expires_at}))

    def load_refusal(self) -> Refusal | None:
        try:
            return _refusal(self._refusal_path.read_text())
        except OSError:
            return None

    def save_refusal(self, refusal: Refusal | None) -> None:
        if refusal is None:
            with contextlib.suppress(FileNotFoundError):
                self._refusal_path.unlink()
            return
        self._write(self._refusal_path, _refusal_json(refusal))

    def _write(self, path: Path, text: str) -> None:
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)  # atomic: a reader sees the old text or the new one

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


class RedisTokenStore:
    """One token for a whole fleet: every instance reads it from Redis; a Redis lock lets one
    of them log in while the others wait and reuse it."""

    def __init__(self, client: Any, key: str = "kiosk:cryptom-token") -> None:
        self.redis = client
        self.key = key

    def load(self) -> Token | None:
        raw = self.redis.get(self.key)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return Token(access_token=str(data["access_token"]), expires_at=float(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            return None

    def save(self, token: Token | None) -> None:
        if token is None:
            self.redis.delete(self.key)
            return
        ttl = max(1, int(token.expires_at - clock.now()) + 60)
        self.redis.set(self.key, json.dumps({"access_token": token.access_token,
                                             "expires_at": token.expires_at}), ex=ttl)

    def load_refusal(self) -> Refusal | None:
        return _refusal(self.redis.get(self.key + ":refused"))

    def save_refusal(self, refusal: Refusal | None) -> None:
        if refusal is None:
            self.redis.delete(self.key + ":refused")
        else:  # kept a day past its pause, so the back-off grows while the refusals go on
            ttl = max(1, int(refusal.until - clock.now()) + 86400)
            self.redis.set(self.key + ":refused", _refusal_json(refusal), ex=ttl)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        # Longer than a login can take (connect + read timeouts), so a crashed holder frees it.
        held: contextlib.AbstractContextManager[None] = self.redis.lock(
            self.key + ":lock", timeout=15, blocking_timeout=20)
        return held


def token_from_auth(data: Mapping[str, Any], now: float) -> Token:
    access = data.get("accessToken")
    if not isinstance(access, str) or not access:
        raise Unavailable("upstream login answered without an access token")
    lifetimes: list[float] = []
    expires = data.get("expires")
    if isinstance(expires, Mapping) and isinstance(expires.get("accessToken"), int | Decimal):
        lifetimes.append(float(expires["accessToken"]) / 1000.0)
    expires_in = data.get("expiresIn")
    if isinstance(expires_in, Mapping) and isinstance(expires_in.get("accessToken"), int | Decimal):
        lifetimes.append(float(expires_in["accessToken"]) / 1000.0 - now)
    lifetime = min(lifetimes) if lifetimes else DEFAULT_TOKEN_SECONDS
    margin = min(RENEW_MARGIN_SECONDS, max(lifetime, 0) / 10.0)
    return Token(access_token=access, expires_at=now + lifetime - margin)


class Logins:
    """The pause after a refused login, shared through the token store by every worker."""

    def __init__(self, tokens: TokenStore, email: str, password: str, key: str = "") -> None:
        self.tokens = tokens
        # A short digest, so that new credentials (the shop fixed them) are tried at once. Keyed
        # with the kiosk's secret: the record sits in the token store (a fleet's Redis, a backup
        # of the state folder), and a plain hash of the credentials would let whoever reads it
        # test password guesses offline.
        self.who = hmac.new(key.encode(), f"{email}\0{password}".encode(), hashlib.sha256).hexdigest()[:12]

    def _last(self) -> Refusal | None:
        refusal = self.tokens.load_refusal()
        return refusal if refusal is not None and refusal.who == self.who else None

    def check(self, now: float) -> None:
        refusal = self._last()
        wait = refusal.until - now if refusal is not None else 0.0
        # A pause longer than the longest was not written by this clock (it jumped back since, or
        # the record is not the kiosk's): it holds back no login. NaN compares false: no pause.
        if 0 < wait <= LOGIN_PAUSE[1]:
            raise AuthError(f"Cryptom Pay refused the login; the kiosk tries again in "
                            f"{math.ceil(wait)} s", status=401)

    def refused(self, now: float) -> None:
        last = self._last()
        # The level only counts up to where the pause stops growing: 2 ** level overflows a float
        # after a thousand refusals (three and a half days of wrong credentials).
        level = min(max(last.level, 0), MAX_LEVEL) + 1 if last is not None else 1
        first, most = LOGIN_PAUSE
        self.tokens.save_refusal(Refusal(self.who, now + min(first * 2 ** (level - 1), most), level))

    def accepted(self) -> None:
        if self.tokens.load_refusal() is not None:
            self.tokens.save_refusal(None)
