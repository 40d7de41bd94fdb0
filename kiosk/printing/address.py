"""A receipt printer's address and paper: `tcp://HOST[:PORT]` and 32 or 48 columns. Plain data
(the settings read it)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORT = 9100
_URL = re.compile(r"tcp://(?P<host>[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:]{2,39}\])(?::(?P<port>[0-9]{1,5}))?/?")


class AddressRefused(ValueError):
    """A printer's address that is no printer's: link-local, unspecified or multicast."""


def refused(host: str) -> bool:
    """Whether `host` (an IP address; a name is judged when it is resolved) is one no printer
    has: link-local (169.254.0.0/16, fe80::/10, where a cloud host's metadata service answers),
    unspecified (0.0.0.0, ::) or multicast. Loopback stays allowed: a print server on the
    tablet's host is legitimate (docs/deployment.md says what that trusts)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip.is_unspecified or ip.is_multicast


@dataclass(frozen=True)
class Printer:
    host: str
    port: int = DEFAULT_PORT
    columns: int = 48

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    def to_json(self) -> dict[str, object]:
        return {"url": self.url, "columns": self.columns}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Printer:
        return parse(str(data["url"]), int(str(data.get("columns") or 48)))


def parse(raw: str | None, columns: int = 48) -> Printer:
    """`tcp://HOST[:PORT]` (port 9100 unless given); raises ValueError with a clear message
    (AddressRefused for an address no printer has)."""
    text = (raw or "").strip()
    match = _URL.fullmatch(text)
    port = int(match.group("port") or DEFAULT_PORT) if match else 0
    if match is None or not 0 < port < 65536:
        raise ValueError("a printer's address reads tcp://HOST:PORT, like tcp://192.168.1.50:9100")
    if columns not in (32, 48):
        raise ValueError("a printer's width is 32 (58 mm paper) or 48 (80 mm) columns")
    host = match.group("host").strip("[]")
    if refused(host):
        raise AddressRefused("a printer's address is not link-local (169.254.x.x, fe80::), unspecified "
                             "(0.0.0.0, ::) or multicast")
    return Printer(host, port, columns)
