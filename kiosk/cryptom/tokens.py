"""Where the upstream access token lives, shared by every worker process of a host.

The token never leaves the server: it is kept in memory or in a file readable by the kiosk's
own user only, and the lock lets one process log in while the others wait and then reuse it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from .. import clock
from .models import Token


class TokenStore(Protocol):
    def load(self) -> Token | None: ...

    def save(self, token: Token | None) -> None: ...

    def lock(self) -> contextlib.AbstractContextManager[None]: ...


class MemoryTokenStore:
    """One process only: for tests and scripts."""

    def __init__(self) -> None:
        self._token: Token | None = None
        self._lock = threading.RLock()

    def load(self) -> Token | None:
        return self._token

    def save(self, token: Token | None) -> None:
        self._token = token

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return self._lock  # type: ignore[return-value]


class FileTokenStore:
    """A JSON file (mode 0600) plus an flock, so the workers of one host log in once."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.path.with_suffix(self.path.suffix + ".lock")
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
        tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"access_token": token.access_token, "expires_at": token.expires_at}, fh)
        os.replace(tmp, self.path)  # atomic: a reader sees the old token or the new one

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

    def lock(self) -> contextlib.AbstractContextManager[None]:
        # Longer than a login can take (connect + read timeouts), so a crashed holder frees it.
        return self.redis.lock(self.key + ":lock", timeout=15, blocking_timeout=20)
