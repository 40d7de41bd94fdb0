"""X-Forwarded-* from the trusted proxies only (KIOSK_BEHIND_PROXY, KIOSK_TRUSTED_PROXIES).

Werkzeug's ProxyFix believes whoever sends the headers. A client on the shop's network that
reaches an instance directly could then name any address it likes and rotate past the creation
limit and the PIN lockout. Here the headers count only when the peer is a trusted proxy; from
anyone else they are dropped, and the peer's own address is the client's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _last(value: str) -> str:
    return value.rsplit(",", 1)[-1].strip()


class TrustedProxies:
    def __init__(self, app: Callable[..., Any], trusted: Iterable[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def is_trusted(self, text: str) -> bool:
        address = _address(text)
        if address is None:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)

    def client(self, peer: str, forwarded_for: str) -> str:
        """Walk X-Forwarded-For from the right (each proxy appends the address it saw) past our
        own proxies; the first other address is the client's. Whatever lies further left was
        written by the client and proves nothing."""
        for hop in reversed(forwarded_for.split(",")):
            if _address(hop) is None:
                break
            if not self.is_trusted(hop):
                return hop.strip()
        return peer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        headers = {name: environ.pop(name) for name in FORWARDED if name in environ}
        peer = environ.get("REMOTE_ADDR", "")
        if headers and self.is_trusted(peer):
            environ["REMOTE_ADDR"] = self.client(peer, headers.get("HTTP_X_FORWARDED_FOR", ""))
            proto = _last(headers.get("HTTP_X_FORWARDED_PROTO", "")).lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            host = _last(headers.get("HTTP_X_FORWARDED_HOST", ""))
            if host:
                environ["HTTP_HOST"] = host
        return self.app(environ, start_response)
