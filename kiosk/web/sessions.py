"""The kiosk's server-side sessions: in files on one host, or in Redis for a fleet.

A session that has done nothing yet (a first look at a screen, or a bot that never sends its
cookie back) is kept for a day, not the month a kiosk's session lives: a flood of cookieless
requests cannot fill Redis for a month, and the single-host store, which drops the sessions that
expire first when it is full, drops those before any tablet's session with its open payment.

In Redis, sessions are read without ever unpickling. flask-session 0.8 stores msgpack, but falls
back to `pickle.loads` for entries it cannot read as msgpack or JSON (sessions of older versions).
Anyone who can write one key into Redis would then run code in every kiosk instance. Here only
this kiosk's own msgpack maps are read; any other entry is deleted and the browser gets a fresh
session, as if its session had expired.
"""

from __future__ import annotations

import fcntl
import logging
import os.path
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import msgspec
from flask import Flask, Request, has_request_context
from flask.globals import request_ctx
from flask.sessions import NullSession
from flask_session.base import Serializer, ServerSideSession
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface
from redis import Redis
from redis.exceptions import RedisError

from ..checkout.rates import Window

log = logging.getLogger(__name__)

FIRST_LOOK = timedelta(days=1)
# New sessions one client address may make in a fleet's Redis: N per seconds. A shop's tablets
# keep theirs for a month; a script that drops its cookie gets a page, and nothing is stored.
NEW_SESSIONS = (120, 600)
SHOW_AGAIN = FIRST_LOOK / 4  # an unattended amount screen loads itself again this often
# What a screen's first look writes: nothing the browser has done yet.
NOTHING_DONE = frozenset({"_permanent", "kiosk_id", "csrf_token"})


class KeptForWhatItHolds:
    """Writes a session that has done nothing yet with at most a day to live, and never brings
    back a session that was ended while the request was on its way.

    A request that read a session from the store only updates that entry while it still exists.
    Lock (or an idle lock, or an unlock) gives the browser a new session id and deletes the old
    entry; a tap of the same browser still in flight at that moment would otherwise write the old
    entry back, unlocked, and send its cookie to the browser again: Lock would not have locked."""

    def open_session(self, app: Flask, request: Request) -> Any:
        session = super().open_session(app, request)  # type: ignore[misc]
        if isinstance(session, ServerSideSession) and session:  # read from the store, not new
            session.read_as = session.sid  # type: ignore[attr-defined]
        return session

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> None:
        if not set(session) - NOTHING_DONE:
            session_lifetime = min(session_lifetime, FIRST_LOOK)
        if getattr(session, "read_as", None) == session.sid:
            if not self._update(session_lifetime, session, store_id):
                session.ended = True  # type: ignore[attr-defined]
            return
        super()._upsert_session(session_lifetime, session, store_id)  # type: ignore[misc]

    def _update(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> bool:
        """Write the session only over its own entry; False (nothing written) when it is gone."""
        raise NotImplementedError

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        super().save_session(app, session, response)  # type: ignore[misc]
        if getattr(session, "ended", False):
            # Its id means nothing now: the browser keeps the cookie the Lock gave it.
            name = app.config["SESSION_COOKIE_NAME"]
            kept = [c for c in response.headers.getlist("Set-Cookie") if not c.startswith(f"{name}=")]
            response.headers.remove("Set-Cookie")
            for cookie in kept:
                response.headers.add("Set-Cookie", cookie)


class FileSessions(KeptForWhatItHolds, CacheLibSessionInterface):
    """One host's sessions, in files readable by the kiosk's user only."""

    def _update(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> bool:
        with self._one_at_a_time():  # the check and the write, with no delete between them
            if not self.cache.has(store_id):
                return False
            self.cache.set(key=store_id, value=dict(session), timeout=int(session_lifetime.total_seconds()))
            return True

    def _delete_session(self, store_id: str) -> None:
        with self._one_at_a_time():
            super()._delete_session(store_id)

    @contextmanager
    def _one_at_a_time(self) -> Iterator[None]:
        """One lock for every process and thread of this host that writes its sessions."""
        path = os.path.normpath(self.cache._path) + ".lock"  # beside the sessions, not among them
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class MsgpackOnly(Serializer):
    """A session is a msgpack map, and nothing else is ever decoded."""

    def __init__(self) -> None:
        self.encoder = msgspec.msgpack.Encoder()
        self.decoder = msgspec.msgpack.Decoder(type=dict[str, Any])

    def encode(self, session: ServerSideSession) -> bytes:
        return self.encoder.encode(dict(session))

    def decode(self, serialized_data: bytes) -> dict:
        return self.decoder.decode(serialized_data)  # msgspec.DecodeError for anything else


class StoreAway(NullSession):
    """The session store did not answer: the request ends in the calm error screen (see
    `refuse_without_store`), and nothing is saved."""


class RedisSessions(KeptForWhatItHolds, RedisSessionInterface):
    def __init__(self, app: Flask, client: Redis, key_prefix: str, *, new_sessions: Window) -> None:
        super().__init__(app, client=client, key_prefix=key_prefix,
                         permanent=app.config["SESSION_PERMANENT"])
        self.serializer = MsgpackOnly()
        self.new_sessions = new_sessions  # NEW_SESSIONS per client address, in the fleet's Redis

    def open_session(self, app: Flask, request: Request) -> Any:
        try:
            return super().open_session(app, request)
        except RedisError:
            log.warning("the session store is not answering")
            return StoreAway()

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> None:
        if getattr(session, "read_as", None) is None and not self._may_make_new():
            return  # a new session (none was read from the store) past its address's limit
        super()._upsert_session(session_lifetime, session, store_id)

    def _may_make_new(self) -> bool:
        """The bounded counter of new sessions per client address (the only write a stranger's
        look may cost beyond its own session)."""
        address = (has_request_context() and request_ctx.request.remote_addr) or "-"
        return self.new_sessions.hit(address)

    def _update(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> bool:
        # SET XX: only over the entry that is still there, in one step.
        written = self.client.set(store_id, self.serializer.encode(session),
                                  ex=int(session_lifetime.total_seconds()), xx=True)
        return bool(written)

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        data = self.client.get(store_id)
        if not data:
            return None
        try:
            return self.serializer.decode(data)
        except msgspec.DecodeError:
            # Not written by this kiosk (or by a version that pickled): never run it, drop it.
            log.warning("a session entry that is not a kiosk session was refused and deleted")
            self.client.delete(store_id)
            return None

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if not isinstance(session, StoreAway):
            super().save_session(app, session, response)


def refuse_without_store(session: Any) -> None:
    """Before each request: without its session store a kiosk cannot take payments."""
    if isinstance(session, StoreAway):
        raise RedisError("the session store is not answering")
