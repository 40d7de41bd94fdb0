"""API keys of the shop's tills. A key is shown once when created; the store keeps only its
SHA-256 (a key is 256 random bits, so a fast hash is enough: nothing to guess from it).

Keys in the store:
    apikey:<name>            the key's record: name, hash, created at, the last four characters
    apikey-hash:<sha256>     name of the key with that hash
    apikey-used:<name>       when it was last used (to the minute: see USED_EVERY)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..checkout.store import Store
from ..clock import now as clock_now

PREFIX = "kiosk_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_KEY = re.compile(r"kiosk_[A-Za-z0-9_-]{43}")
USED_EVERY = 60.0  # seconds: a busy till writes its last use once a minute, not on every request


class KeyError_(ValueError):  # noqa: N801 - not the builtin KeyError
    """A key could not be made: the message says why."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    hash: str
    created: float
    hint: str  # the last four characters, so staff can tell keys apart


def _read(text: str) -> ApiKey | None:
    """A key's record; None for one this kiosk cannot read (garbage, or an older version's),
    which then opens nothing. A newer version's extra fields are left aside."""
    try:
        data = json.loads(text)
        return ApiKey(str(data["name"]), str(data["hash"]), float(data["created"]), str(data["hint"]))
    except (ValueError, KeyError, TypeError):
        return None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, store: Store, clock: Callable[[], float] = clock_now) -> None:
        self.store = store
        self.clock = clock

    def create(self, name: str) -> str:
        """A new key named `name`, returned once and never again."""
        if not NAME.fullmatch(name or ""):
            raise KeyError_("a key's name is 1-40 letters, digits, dots, dashes or underscores, "
                            "starting with a letter or digit")
        key = PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(name, digest(key), self.clock(), key[-4:])
        if not self.store.add(f"apikey:{name}", json.dumps(asdict(record))):
            raise KeyError_(f"a key named {name!r} exists already: revoke it first")
        self.store.delete(f"apikey-used:{name}")  # a request of a revoked key of that name, late
        self.store.set(f"apikey-hash:{record.hash}", name)
        return key

    def get(self, name: str) -> ApiKey | None:
        text = self.store.get(f"apikey:{name}") if NAME.fullmatch(name or "") else None
        return _read(text) if text else None

    def all(self) -> list[ApiKey]:
        keys = [key for _k, text in self.store.items("apikey:") if (key := _read(text)) is not None]
        return sorted(keys, key=lambda k: k.name)

    def verify(self, key: str | None) -> str | None:
        """The name of the key, or None for a wrong, malformed or revoked one."""
        if not key or not _KEY.fullmatch(key):
            return None
        hashed = digest(key)
        name = self.store.get(f"apikey-hash:{hashed}")
        record = self.get(name) if name else None
        if record is None or not hmac.compare_digest(record.hash, hashed):
            return None
        self._used(record.name)
        return record.name

    def last_used(self, name: str) -> float | None:
        """When the key was last used, to the minute; None if never."""
        text = self.store.get(f"apikey-used:{name}")
        try:
            return float(text) if text else None
        except ValueError:
            return None

    def _used(self, name: str) -> None:
        # A read on every request, a write once a minute. Two workers may both write at the
        # minute: the same fact twice, harmless.
        now = self.clock()
        last = self.last_used(name)
        if last is None or now - last >= USED_EVERY:
            self.store.set(f"apikey-used:{name}", repr(now))

    def revoke(self, name: str) -> bool:
        record = self.get(name)
        if record is None:
            return False
        self.store.delete(f"apikey-hash:{record.hash}")
        self.store.delete(f"apikey:{name}")
        self.store.delete(f"apikey-used:{name}")
        return True
