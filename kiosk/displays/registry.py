"""The shop's displays: tablets that face the customer, each paired once by staff.

A display proves who it is with a credential: a long random secret kept by its browser in an
HttpOnly cookie. The store keeps only the secret's SHA-256, bound to the display's record, so the
pairing survives a browser restart and a kiosk restart, and a fleet of kiosk servers shares it.

A credential is only ever one the kiosk issued: a browser's cookie counts when its hash is in the
store (an unpaired browser's, for as long as its code; a paired display's, until it is unpaired
or replaced). Anything else, made up or retired, is treated exactly as no cookie. Pairing binds
the credential that showed the code only until the display comes back for a fresh one (the
handover), which retires it.

Keys in the store:
    display:<id>             the record (name, mode, the hash it was paired with, paired at)
    display-cred:<hash>      id of the display holding that credential
    display-key:<id>         hash of the credential the display holds since its handover
    display-handover:<hash>  id of a display just paired, until its browser collects a credential
    display-seen:<id>        when it last asked for something (written at most every few seconds)
    display-new:<hash>       an unpaired browser's credential: the code it shows now, and until when
    pairing:<code>           credential hash of the unpaired browser showing that code, and its end
    rate:pairing/<address>/… new pairing codes for that client address in its current window
                             (kiosk.checkout.rates; in Redis kiosk:rate:pairing/…)
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
from ..checkout.rates import StoreStorage, Window
from ..checkout.store import Store
from ..clock import now as clock_now
from . import pairing

log = logging.getLogger(__name__)

MODES = ("till", "keypad")
NAME_MAX = 40
ONLINE_SECONDS = 30  # a display not heard from for this long is offline
SEEN_EVERY = 10.0  # seconds between writes of "last seen", per display and process
NEW_CODES = (30, 600)  # new pairing codes per client address: N per seconds, from its first
HANDOVER_SECONDS = pairing.VALID_SECONDS  # a display just paired collects its credential within
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
    def __init__(self, store: Store, clock: Callable[[], float] = clock_now, *,
                 new_codes: Window | None = None) -> None:
        self.store = store
        self.clock = clock
        # New pairing codes per client address (kiosk.services counts them where every worker
        # and host sees them; alone, in this store).
        self.new_codes = new_codes or Window(StoreStorage(store=store), "pairing", NEW_CODES)
        self._seen: dict[str, float] = {}
        self._seen_lock = threading.Lock()

    # -- the display's own side ------------------------------------------------------------

    def by_credential(self, credential: str | None) -> Display | None:
        """The paired display holding this credential, or None. Reads only."""
        if valid_credential(credential) is None:
            return None
        display_id = self.store.get(f"display-cred:{credential_hash(str(credential))}")
        return self.get(display_id) if display_id else None

    def issue(self, address: str) -> tuple[str, Code] | None:
        """A new unpaired browser: a credential and its first code; None past the address's limit
        of new codes (then only the address's counter was written)."""
        if not self.may_issue(address):
            return None
        credential = new_credential()
        return credential, self._new_code(credential_hash(credential))

    def shown_code(self, credential: str | None) -> Code | None:
        """The code an unpaired browser the kiosk issued this credential to shows now; None for a
        credential it did not issue, one paired since, or one whose code ran out. Reads only."""
        if valid_credential(credential) is None:
            return None
        text = self.store.get(f"display-new:{credential_hash(str(credential))}")
        return Code(**json.loads(text)) if text else None

    def code_for(self, credential: str | None, address: str) -> Code | None:
        """The pairing code an unpaired browser shows: the same one on every look while it is
        fresh, a new one shortly before it runs out. A new code counts against the address's limit;
        past it, the browser keeps the code it has while that lasts. None when the kiosk does not
        know the credential (see `shown_code`): the browser is a new one."""
        shown = self.shown_code(credential)
        if shown is None:
            return None
        if shown.expires - self.clock() > pairing.RENEW_BEFORE or not self.may_issue(address):
            return shown
        return self._new_code(credential_hash(str(credential)))

    def _new_code(self, digest: str) -> Code:
        expires = self.clock() + pairing.VALID_SECONDS
        while True:
            code = pairing.new_code()
            if self.store.add(f"pairing:{code}", f"{digest} {expires!r}", ttl=pairing.VALID_SECONDS):
                break
        shown = Code(code, expires)
        # The credential is known for as long as its latest code: a browser away for longer is a
        # new browser (and counts as one).
        self.store.set(f"display-new:{digest}", json.dumps(asdict(shown)), ttl=pairing.VALID_SECONDS)
        return shown

    def may_issue(self, address: str) -> bool:
        """Every new pairing code (a new browser's, or a renewal) counts against its client
        address, whatever cookie came with the request, so a script cannot fill the store with
        codes. The window starts with the address's first code; one counter per address."""
        return self.new_codes.hit(address)

    def hand_over(self, credential: str | None) -> tuple[Display, str] | None:
        """The display's browser collects its own credential: a fresh one, made now, for the
        credential it showed its pairing code with (or one paired by an earlier version of the
        kiosk, which bound whatever the browser sent). That credential is retired at this moment.
        None when there is nothing to hand over. Reads only, unless there is.

        Why: the credential that showed the code may not be the display's alone. It travelled to
        the browser in a cookie someone could have planted there (a value of their own, or one the
        kiosk issued to a device of theirs), and every browser holding it showed the same code.
        After the handover it is worth nothing: the new credential exists only in the one answer
        that retired the old one, and of all requests presenting the old one exactly one gets it
        (an atomic add in the store). Had the planted copy won, the shop's tablet shows a new
        pairing code instead of its welcome screen, for staff to see."""
        if valid_credential(credential) is None:
            return None
        digest = credential_hash(str(credential))
        display_id = self.store.get(f"display-handover:{digest}")
        if display_id is None:  # or a display paired by an earlier version, not handed over yet
            display_id = self.store.get(f"display-cred:{digest}")
            if display_id is None or self.store.get(f"display-key:{display_id}") is not None:
                return None
        display = self.get(display_id)
        if display is None:  # unpaired meanwhile
            return None
        fresh = new_credential()  # made here, sent only in the answer to the one request that wins
        held = credential_hash(fresh)
        # Every write a full store could refuse comes before the one that decides, so such a store
        # leaves the handover for the next look. The first request to record the display's new
        # credential wins; any other takes its own back.
        self.store.set(f"display-cred:{held}", display.id)
        if not self.store.add(f"display-key:{display.id}", held):
            self.store.delete(f"display-cred:{held}")
            return None
        for key in (f"display-handover:{digest}", f"display-cred:{digest}", f"display-new:{digest}"):
            self.store.delete(key)
        log.info("display credential handed over id=%s", display.id,
                 extra={"event": "display handover", "display": display.id})
        return display, fresh

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
        # keeps its own time). A browser pairs once: its credential is no longer an unpaired one.
        shown = self.store.get(f"display-new:{digest}") if found else None
        if not found or float(expires) <= self.clock() or shown is None:
            raise PairingError(N_("This code is not valid or has expired: check the display."))
        display = Display(secrets.token_hex(6), name, mode, digest, self.clock())
        # One pairing per code, even when two staff enter it at the same moment. The credential
        # that showed the code only collects the display's own at its next look (`hand_over`).
        if not self.store.add(f"display-handover:{digest}", display.id, ttl=HANDOVER_SECONDS):
            raise PairingError(N_("This display is paired already."))
        self.store.set(f"display:{display.id}", display.dumps())
        self.store.set(f"display-seen:{display.id}", repr(self.clock()))
        self.store.delete(f"display-new:{digest}")
        self.store.delete(f"pairing:{code}")
        self.store.delete(f"pairing:{json.loads(shown)['code']}")  # when staff typed an older one
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
        held = self.store.get(f"display-key:{display.id}")
        for digest in {display.credential_hash, held} - {None}:
            self.store.delete(f"display-cred:{digest}")
        self.store.delete(f"display-handover:{display.credential_hash}")
        self.store.delete(f"display-key:{display.id}")
        self.store.delete(f"display:{display.id}")
        self.store.delete(f"display-seen:{display.id}")
        self.store.delete(f"printer:display:{display.id}")  # its printer (kiosk.printing.printers)
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
