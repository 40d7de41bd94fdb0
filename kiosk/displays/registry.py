"""The shop's displays: tablets that face the customer, each paired once by staff.

A display proves who it is with a credential: a long random secret kept by its browser in an
HttpOnly cookie. The store keeps only the secret's SHA-256, bound to the display's record, so the
pairing survives a browser restart and a kiosk restart, and a fleet of kiosk servers shares it.

Keys in the store:
    display:<id>             the record (name, mode, credential hash, paired at)
    display-cred:<hash>      id of the display holding that credential
    display-seen:<id>        when it last asked for something (written at most every few seconds)
    pairing:<code>           credential hash of the unpaired browser showing that code, and its end
    pairing-of:<hash>        the code that browser shows now, and until when
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..checkout import ownership
from ..checkout.inputs import N_, InputError
from ..checkout.store import Store
from ..clock import now as clock_now
from . import pairing

log = logging.getLogger(__name__)

MODES = ("till", "keypad")
NAME_MAX = 40
ONLINE_SECONDS = 30  # a display not heard from for this long is offline
SEEN_EVERY = 10.0  # seconds between writes of "last seen", per display and process
NEW_BROWSERS = (30, 600)  # new pairing browsers per client address: N per seconds
_CREDENTIAL = re.compile(r"[A-Za-z0-9_-]{40,64}")


@dataclass(frozen=True)
class Display:
    id: str
    name: str
    mode: str  # "till": waits for the console or a till; "keypad": the customer types the amount
    credential_hash: str
    paired_at: float

    @property
    def owner(self) -> str:
        """Who its checkouts belong to (the same field a keypad kiosk's session fills)."""
        return ownership.display(self.id)

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> Display:
        data = json.loads(text)
        return cls(str(data["id"]), str(data["name"]), str(data["mode"]), str(data["credential_hash"]),
                   float(data["paired_at"]))


@dataclass(frozen=True)
class Code:
    code: str
    expires: float


class PairingError(InputError):
    """Pairing or renaming was refused; the message says why, nothing was changed."""


def new_credential() -> str:
    return secrets.token_urlsafe(32)


def credential_hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def valid_credential(value: str | None) -> str | None:
    return value if value and _CREDENTIAL.fullmatch(value) else None


def parse_name(raw: str | None) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise PairingError(N_("Give the display a name, e.g. Counter 1."))
    if len(name) > NAME_MAX or not name.isprintable():
        raise PairingError(N_("The name can be at most %(max)d characters."), max=NAME_MAX)
    return name


def parse_mode(raw: str | None) -> str:
    if raw not in MODES:
        raise PairingError(N_("Choose till or keypad."))
    return str(raw)


class Displays:
    def __init__(self, store: Store, clock: Callable[[], float] = clock_now) -> None:
        self.store = store
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._seen_lock = threading.Lock()

    # -- the display's own side ------------------------------------------------------------

    def by_credential(self, credential: str | None) -> Display | None:
        if valid_credential(credential) is None:
            return None
        display_id = self.store.get(f"display-cred:{credential_hash(str(credential))}")
        return self.get(display_id) if display_id else None

    def code_for(self, credential: str) -> Code:
        """The pairing code an unpaired browser shows: the same one on every look while it is
        fresh, a new one shortly before it runs out."""
        digest = credential_hash(credential)
        now = self.clock()
        text = self.store.get(f"pairing-of:{digest}")
        if text is not None:
            shown = Code(**json.loads(text))
            if shown.expires - now > pairing.RENEW_BEFORE:
                return shown
        expires = now + pairing.VALID_SECONDS
        while True:
            code = pairing.new_code()
            if self.store.add(f"pairing:{code}", f"{digest} {expires!r}", ttl=pairing.VALID_SECONDS):
                break
        shown = Code(code, expires)
        self.store.set(f"pairing-of:{digest}", json.dumps(asdict(shown)), ttl=pairing.VALID_SECONDS)
        return shown

    def may_issue(self, address: str) -> bool:
        """A browser without a credential gets one (and a code): a few per address, so a script
        cannot fill the store with codes."""
        count, window = NEW_BROWSERS
        slot = int(self.clock() // window)
        return self.store.incr(f"rate:pairing:{address}:{slot}", ttl=window) <= count

    def seen(self, display: Display) -> None:
        """Note that the display is alive. Polls come every few seconds; the store is written at
        most every SEEN_EVERY seconds per display and process."""
        now = self.clock()
        with self._seen_lock:
            if now - self._seen.get(display.id, 0.0) < SEEN_EVERY:
                return
            self._seen[display.id] = now
        self.store.set(f"display-seen:{display.id}", repr(now))

    # -- staff's side -----------------------------------------------------------------------

    def pair(self, raw_code: str | None, raw_name: str | None, raw_mode: str | None) -> Display:
        name, mode = parse_name(raw_name), parse_mode(raw_mode)
        code = pairing.normalize(raw_code)
        found = self.store.get(f"pairing:{code}") if code else None
        digest, _, expires = (found or "").partition(" ")
        # The store drops old codes by itself too; the kiosk's clock decides (a fleet's Redis
        # keeps its own time).
        if not found or float(expires) <= self.clock():
            raise PairingError(N_("This code is not valid or has expired: check the display."))
        display = Display(secrets.token_hex(6), name, mode, digest, self.clock())
        # One pairing per code, even when two staff enter it at the same moment.
        if not self.store.add(f"display-cred:{digest}", display.id):
            raise PairingError(N_("This display is paired already."))
        self.store.set(f"display:{display.id}", display.dumps())
        self.store.set(f"display-seen:{display.id}", repr(self.clock()))
        self.store.delete(f"pairing:{code}")
        self.store.delete(f"pairing-of:{digest}")
        _event("paired", display)
        return display

    def get(self, display_id: str | None) -> Display | None:
        if not display_id or len(display_id) > 32:
            return None
        text = self.store.get(f"display:{display_id}")
        return Display.loads(text) if text else None

    def all(self) -> list[Display]:
        found = [Display.loads(text) for _key, text in self.store.items("display:")]
        return sorted(found, key=lambda d: (d.name.casefold(), d.paired_at))

    def rename(self, display: Display, raw_name: str | None) -> Display:
        return self._save(Display(display.id, parse_name(raw_name), display.mode,
                                  display.credential_hash, display.paired_at))

    def set_mode(self, display: Display, raw_mode: str | None) -> Display:
        return self._save(Display(display.id, display.name, parse_mode(raw_mode),
                                  display.credential_hash, display.paired_at))

    def _save(self, display: Display) -> Display:
        self.store.set(f"display:{display.id}", display.dumps())
        _event("changed", display)
        return display

    def unpair(self, display: Display) -> None:
        """The browser's credential stops meaning anything: on its next look it is an unpaired
        browser again and shows a new pairing code."""
        self.store.delete(f"display-cred:{display.credential_hash}")
        self.store.delete(f"display:{display.id}")
        self.store.delete(f"display-seen:{display.id}")
        with self._seen_lock:
            self._seen.pop(display.id, None)
        _event("unpaired", display)

    def last_seen(self, display: Display) -> float | None:
        text = self.store.get(f"display-seen:{display.id}")
        return float(text) if text else None

    def online(self, display: Display) -> bool:
        seen = self.last_seen(display)
        return seen is not None and self.clock() - seen <= ONLINE_SECONDS


def _event(event: str, display: Display) -> None:
    """One log line when staff change a display, for people and for machines (JSON fields)."""
    log.info("display %s id=%s name=%r mode=%s", event, display.id, display.name, display.mode,
             extra={"event": f"display {event}", "display": display.id, "mode": display.mode})
