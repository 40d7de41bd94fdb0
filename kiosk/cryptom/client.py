"""The Cryptom Pay POS API over HTTP. Knows nothing of Flask.

Rules from the API document that shape this file:
- tokens come from `POST /auth`; their lifetime is read from `expires`/`expiresIn` (milliseconds),
  never from the JWT's own `exp`, which upstream sets 1000x too long;
- no refresh endpoint is documented, so renewing means logging in again, once for all workers;
- create is never retried blindly: a second attempt could reserve a second wallet address.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import requests

from .. import money
from .errors import AuthError, CryptomError, NotFound, Rejected, Unavailable
from .models import Page, Token, Transaction
from .tokens import Logins, MemoryTokenStore, TokenStore, token_from_auth
from .wire import ANSWER_GRACE_SECONDS, data_of, dump_json, parse, read_body, read_model

log = logging.getLogger(__name__)


class CryptomClient:
    """One client per upstream account; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        email: str,
        password: str,
        *,
        token_store: TokenStore | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 5.0,
        get_retries: int = 1,
        clock: Any = time.time,
        login_key: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._email = email
        self._password = password
        self._login_key = login_key  # keys the refusal's digest: see Logins
        self.tokens = token_store or MemoryTokenStore()
        self.timeout = (connect_timeout, read_timeout)
        self.get_retries = get_retries
        self._clock = clock
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the credentials
        return f"CryptomClient({self.base_url!r})"

    # -- public API ---------------------------------------------------------------------------

    def authenticate(self) -> Token:
        """Log in and store the new token for every worker. After a refused login, no worker
        logs in with the same credentials again before its pause is over (`LOGIN_PAUSE`)."""
        logins = Logins(self.tokens, self._email, self._password, self._login_key)
        logins.check(self._clock())
        try:
            data = self._call("POST", "/auth", body={"email": self._email, "password": self._password})
        except (Rejected, AuthError) as exc:  # 400/403 from /auth is a refusal of the credentials too
            logins.refused(self._clock())
            raise AuthError(f"Cryptom Pay refused the login: {exc.message}", status=exc.status) from None
        token = token_from_auth(data, self._clock())
        self.tokens.save(token)
        logins.accepted()
        log.info("cryptom: logged in; token valid for %.0f s", token.expires_at - self._clock())
        return token

    def create_transaction(
        self,
        currency: str,
        amount: Decimal,
        coin: str,
        network: str,
        user_mobile: str | None = None,
        status_note: str | None = None,
    ) -> Transaction:
        # The amount to the currency's digits, half up: 300.00 TRY, 300 JPY, 1.250 KWD.
        body: dict[str, Any] = {
            "currency": currency,
            "currencyAmount": money.wire(Decimal(amount), currency),
            "coin": coin,
            "network": network,
        }
        if user_mobile:
            body["userMobile"] = user_mobile
        if status_note:
            body["statusNote"] = status_note
        data = self._authed("POST", "/api/transaction/create", body=body)
        return read_model(Transaction.from_json, data_of(data))

    def transaction(self, tx_id: str) -> Transaction:
        data = self._authed("GET", f"/api/transaction/detail/{_safe_id(tx_id)}")
        return read_model(Transaction.from_json, data_of(data))

    def cancel(self, tx_id: str) -> None:
        """Ask upstream to cancel. Read the transaction again afterwards: it may have completed."""
        self._authed("DELETE", f"/api/transaction/cancel/{_safe_id(tx_id)}")

    def qr_png(self, tx_id: str) -> bytes:
        content = self._authed("GET", f"/qr/{_safe_id(tx_id)}", raw=True)
        if not isinstance(content, bytes) or not content.startswith(b"\x89PNG\r\n\x1a\n"):
            raise Unavailable("upstream QR code is not a PNG image")
        return content

    def history(
        self, filters: Mapping[str, Any] | None = None, page: int = 1, limit: int = 10
    ) -> Page:
        params = {k: str(v) for k, v in (filters or {}).items() if v not in (None, "")}
        params.update(page=str(int(page)), limit=str(int(limit)))
        data = self._authed("GET", "/api/transaction", params=params)
        return read_model(Page.from_json, data_of(data))

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "cryptom-kiosk"
            self._local.session = session
        return session

    def _valid_token(self) -> Token:
        token = self.tokens.load()
        if token and token.expires_at > self._clock():
            return token
        with self.tokens.lock():
            token = self.tokens.load()  # another worker may have logged in while we waited
            if token and token.expires_at > self._clock():
                return token
            return self.authenticate()

    def _renew_after_401(self, rejected: Token) -> Token:
        with self.tokens.lock():
            token = self.tokens.load()
            if token and token.access_token != rejected.access_token and token.expires_at > self._clock():
                return token
            return self.authenticate()

    def _authed(self, method: str, path: str, **kwargs: Any) -> Any:
        token = self._valid_token()
        try:
            return self._call(method, path, token=token.access_token, **kwargs)
        except AuthError:
            pass
        # One fresh login and one retry on any 401: upstream may revoke tokens at will.
        token = self._renew_after_401(token)
        return self._call(method, path, token=token.access_token, **kwargs)

    def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = dump_json(body).encode()
        attempts = 1 + (self.get_retries if method == "GET" else 0)
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                response = self._session.request(
                    method, self.base_url + path, headers=headers, data=data, params=params,
                    timeout=self.timeout, stream=True,
                )
                read_body(response, started + self.timeout[1] + ANSWER_GRACE_SECONDS)
            except requests.ConnectionError as exc:
                # Refused or reset before an answer: safe to try a GET again, never a POST.
                if isinstance(exc, requests.ConnectTimeout) or attempt + 1 >= attempts:
                    raise Unavailable(f"cannot reach Cryptom Pay ({type(exc).__name__})") from None
                continue
            except requests.Timeout:
                raise Unavailable("Cryptom Pay did not answer in time") from None
            except requests.RequestException as exc:
                raise Unavailable(f"request to Cryptom Pay failed ({type(exc).__name__})") from None
            elapsed = (time.monotonic() - started) * 1000
            log.debug("cryptom: %s %s -> %s in %.0f ms", method, path, response.status_code, elapsed)
            if response.status_code >= 500 and attempt + 1 < attempts:
                continue
            return parse(response, raw=raw)
        raise AssertionError("unreachable")  # pragma: no cover


def _safe_id(tx_id: str) -> str:
    """Ids go into URL paths: refuse anything that could change the path."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tx_id or ""):
        raise NotFound("not a transaction id")
    return tx_id


__all__ = ["CryptomClient", "CryptomError", "AuthError", "Unavailable", "Rejected", "NotFound"]
