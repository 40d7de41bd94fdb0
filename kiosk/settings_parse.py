"""Parsers of the KIOSK_* settings, one per kind of value: each returns the typed value or stops
the start with one clear line (ConfigError). kiosk.config puts them together."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import money
from .i18n import CUSTOMER_LANGUAGES

SANDBOX_URL = "http://127.0.0.1:8001"
DEMO_PIN = "246810"  # the demo's operator PIN; a shop always sets its own


class ConfigError(SystemExit):
    """A bad setting. A SystemExit, so every entry point prints one line, never a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"kiosk: configuration error: {message}")


@dataclass(frozen=True)
class Coin:
    coin: str
    network: str

    @property
    def key(self) -> str:
        return f"{self.coin}-{self.network}"

    @property
    def label(self) -> str:
        return self.coin if self.coin == self.network else f"{self.coin} ({self.network})"


def currency(raw: Any) -> str:
    """An ISO 4217 code in use today (EUR, JPY, KWD); an unknown one stops the start, named."""
    code = str(raw or money.DEFAULT).strip().upper()
    if not money.is_known(code):
        raise ConfigError(f"KIOSK_CURRENCY must be an ISO 4217 currency code like TRY, EUR or JPY; "
                          f"{str(raw).strip()!r} is not one")
    return code


def languages(raw: Any, default: Any) -> tuple[tuple[str, ...], str]:
    """KIOSK_LANGUAGES, the shop's own first, and the default (KIOSK_DEFAULT_LOCALE, if set, must
    be one of them)."""
    found: list[str] = []
    for item in str(raw or "").split(","):
        code = item.strip().lower()
        if not code:
            continue
        if code not in CUSTOMER_LANGUAGES:
            raise ConfigError(f"KIOSK_LANGUAGES must list languages from {', '.join(CUSTOMER_LANGUAGES)}, "
                              f"comma separated, the shop's own first; got {item.strip()!r}")
        if code not in found:
            found.append(code)
    if not found:
        raise ConfigError("KIOSK_LANGUAGES must name at least one language, e.g. tr,en")
    if default in (None, ""):
        return tuple(found), found[0]
    chosen = str(default).strip().lower()
    if chosen not in found:
        raise ConfigError(f"KIOSK_DEFAULT_LOCALE must be one of KIOSK_LANGUAGES ({', '.join(found)}), "
                          f"got {str(default)!r}")
    return tuple(found), chosen


def amount(config: dict[str, Any], name: str, currency: str) -> Decimal:
    """A limit in the shop's currency, with at most its digits (none for JPY, three for KWD)."""
    raw = config.get(name)
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ConfigError(f"KIOSK_{name} must be an amount in {currency}, got {raw!r}") from None
    places = money.digits(currency)
    if not value.is_finite() or value <= 0 or not money.is_exact(value, currency):
        raise ConfigError(f"KIOSK_{name} must be a positive amount in {currency} with at most "
                          f"{places} decimals, got {raw!r}")
    return money.rounded(value, currency)


TIPS_MAX = 6  # presets on one screen, beside "no tip" and "other amount"


def tips(raw: Any) -> tuple[Decimal, ...]:
    """KIOSK_TIPS: percentages such as `5,10,15` (up to two decimals each, above 0, at most 100,
    each once); unset or empty, no tip screen."""
    text = str(raw or "").strip()
    if not text:
        return ()
    found: list[Decimal] = []
    for part in text.split(","):
        item = part.strip().removesuffix("%").strip()
        if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,2})?", item) or not 0 < Decimal(item) <= 100:
            raise ConfigError(f"KIOSK_TIPS must be percentages above 0 and at most 100, like 5,10,15; "
                              f"got {raw!r}")
        found.append(Decimal(item))
    if len(found) > TIPS_MAX or len(set(found)) != len(found):
        raise ConfigError(f"KIOSK_TIPS takes at most {TIPS_MAX} different percentages, got {raw!r}")
    return tuple(found)


def seconds(config: dict[str, Any], name: str, low: int, high: int) -> int:
    raw = config.get(name)
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"KIOSK_{name} must be a whole number of seconds, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"KIOSK_{name} must be between {low} and {high} seconds, got {value}")
    return value


def flag(config: dict[str, Any], name: str) -> bool:
    raw = config.get(name)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", "", "none"}:
        return False
    raise ConfigError(f"KIOSK_{name} must be true or false, got {raw!r}")


def pin(raw: Any, demo: bool) -> str | None:
    if raw in (None, ""):
        return DEMO_PIN if demo else None
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]{6,12}", text):
        raise ConfigError("KIOSK_OPERATOR_PIN must be 6 to 12 digits")
    return text


def cashier_pin(raw: Any, operator_pin: str | None) -> str | None:
    if raw in (None, ""):
        return None
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]{6,12}", text):
        raise ConfigError("KIOSK_CASHIER_PIN must be 6 to 12 digits")
    if text == operator_pin:
        raise ConfigError("KIOSK_CASHIER_PIN must differ from KIOSK_OPERATOR_PIN")
    return text


LOGO_TYPES = {".png", ".svg", ".jpg", ".jpeg", ".webp"}


def logo(raw: Any) -> Path | None:
    if raw in (None, ""):
        return None
    path = Path(str(raw)).expanduser()
    if path.suffix.lower() not in LOGO_TYPES:
        raise ConfigError(f"KIOSK_LOGO must be a .png, .svg, .jpg or .webp file, got {str(raw)!r}")
    if not path.is_file():
        raise ConfigError(f"KIOSK_LOGO names no readable file: {str(raw)!r}")
    return path.resolve()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_url(raw: Any, demo: bool) -> str:
    if raw in (None, ""):
        if demo:
            return SANDBOX_URL
        raise ConfigError("KIOSK_API_URL is required: Cryptom Pay's base URL (https://…); "
                          "`kiosk demo` runs against a local sandbox")
    text = str(raw).strip()
    parts = urlsplit(text) if re.fullmatch(r"https?://[^\s/]+(/\S*)?", text) else None
    if parts is None or not parts.hostname:
        raise ConfigError(f"KIOSK_API_URL must be an http(s) URL, got {raw!r}")
    # Credentials and tokens travel in this connection: in the clear only inside this machine.
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError("KIOSK_API_URL must use https:// (plain http:// only to this machine's "
                          f"loopback), got {raw!r}")
    return text.rstrip("/")


def networks(raw: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in filter(None, (part.strip() for part in str(raw or "").split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError("KIOSK_TRUSTED_PROXIES must list addresses or networks, comma "
                              f"separated, like 127.0.0.1,10.0.0.0/8; got {item!r}") from None
    return tuple(networks)


def zone(raw: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(raw or "Europe/Istanbul"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"KIOSK_TIMEZONE must be a zone name like Europe/Istanbul, got {raw!r}") from None


def redis_url(raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    if not re.fullmatch(r"rediss?://\S+|unix://\S+", str(raw)):
        raise ConfigError("KIOSK_REDIS_URL must be a redis:// or rediss:// URL")
    return str(raw)


def database_url(raw: Any) -> str | None:
    """The ledger's PostgreSQL, as SQLAlchemy names it with psycopg 3. Never echoed: it may hold a
    password."""
    if raw in (None, ""):
        return None
    match = re.fullmatch(r"(postgres|postgresql|postgresql\+psycopg)://(\S+)", str(raw))
    if not match:
        raise ConfigError("KIOSK_DATABASE_URL must be a postgresql:// URL "
                          "(postgresql://USER:PASSWORD@HOST:5432/DATABASE)")
    return f"postgresql+psycopg://{match.group(2)}"


def limit(raw: Any, name: str = "CREATE_LIMIT") -> tuple[int, int]:
    match = re.fullmatch(r"\s*([0-9]{1,6})\s*/\s*([0-9]{1,6})\s*", str(raw or ""))
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ConfigError(f"KIOSK_{name} must read COUNT/SECONDS like 10/60, got {raw!r}")
    return int(match.group(1)), int(match.group(2))


def webhook(config: dict[str, Any]) -> tuple[str | None, str | None]:
    url, secret = config.get("WEBHOOK_URL") or None, config.get("WEBHOOK_SECRET") or None
    if url is None and secret is None:
        return None, None
    if url is None or secret is None:
        raise ConfigError("KIOSK_WEBHOOK_URL and KIOSK_WEBHOOK_SECRET go together: set both or neither")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", str(url)):
        raise ConfigError(f"KIOSK_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    if not re.fullmatch(r"whsec_[A-Za-z0-9+/=]{24,}", str(secret)) or len(_base64(str(secret)[6:])) < 16:
        raise ConfigError("KIOSK_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ and base64 "
                          "of at least 16 random bytes")
    return str(url), str(secret)


def _base64(text: str) -> bytes:
    """Strictly decoded: "========" would otherwise sign with an empty key."""
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return b""


def backoff(raw: Any) -> tuple[float, float]:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*([0-9]+(?:\.[0-9]+)?)\s*", str(raw or ""))
    if not match or not 0 < float(match.group(1)) <= float(match.group(2)) <= 86400:
        raise ConfigError(f"KIOSK_WEBHOOK_BACKOFF must read FIRST/MAX seconds like 5/3600, got {raw!r}")
    return float(match.group(1)), float(match.group(2))


def choice(config: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = str(config.get(name) or allowed[0]).strip().lower()
    if value not in allowed:
        raise ConfigError(f"KIOSK_{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def coins(raw: Any) -> tuple[Coin, ...]:
    coins: list[Coin] = []
    for item in str(raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        coin, _, network = item.partition(":")
        if not re.fullmatch(r"[A-Za-z0-9]{2,10}", coin) or not re.fullmatch(
            r"[A-Za-z0-9]{2,10}", network or coin
        ):
            raise ConfigError(f"KIOSK_COINS must list COIN:NETWORK pairs like TRX:TRX, got {item!r}")
        pair = Coin(coin.upper(), (network or coin).upper())
        if pair not in coins:
            coins.append(pair)
    if not coins:
        raise ConfigError("KIOSK_COINS must name at least one COIN:NETWORK pair, e.g. TRX:TRX")
    return tuple(coins)


def address(raw: Any) -> tuple[str, ...]:
    lines = tuple(" ".join(part.split()) for part in str(raw or "").split("|"))
    lines = tuple(line for line in lines if line)
    if len(lines) > 4 or any(len(line) > 48 or not line.isprintable() for line in lines):
        raise ConfigError("KIOSK_SHOP_ADDRESS must be at most 4 lines of at most 48 characters, "
                          "separated by |")
    return lines


def tax_number(raw: Any) -> str | None:
    text = str(raw or "").strip()
    if not text:
        return None
    if len(text) > 32 or not text.isprintable():
        raise ConfigError("KIOSK_SHOP_TAX_NUMBER must be at most 32 characters")
    return text


def printer(raw: Any, columns: Any) -> Any:
    from .printing.address import AddressRefused, parse

    width = str(columns or "48").strip()
    if width not in ("32", "48"):
        raise ConfigError(f"KIOSK_PRINTER_COLUMNS must be 32 (58 mm paper) or 48 (80 mm), got {columns!r}")
    if raw in (None, ""):
        return None
    try:
        return parse(str(raw), int(width))
    except AddressRefused:
        raise ConfigError("KIOSK_PRINTER_URL may not be a link-local (169.254.x.x, fe80::), unspecified "
                          f"(0.0.0.0, ::) or multicast address, got {raw!r}") from None
    except ValueError:
        raise ConfigError("KIOSK_PRINTER_URL must read tcp://HOST:PORT, like tcp://192.168.1.50:9100, "
                          f"got {raw!r}") from None


def print_retry(raw: Any) -> tuple[float, float, float]:
    number = r"\s*([0-9]+(?:\.[0-9]+)?)\s*"
    match = re.fullmatch(f"{number}/{number}/{number}", str(raw or ""))
    if not match:
        raise ConfigError(f"KIOSK_PRINT_RETRY must read FIRST/MAX/WINDOW seconds like 2/60/3600, got {raw!r}")
    first, longest, window = (float(g) for g in match.groups())
    if not 0 < first <= longest <= window <= 86400:
        raise ConfigError("KIOSK_PRINT_RETRY must have 0 < FIRST <= MAX <= WINDOW <= 86400 seconds, "
                          f"got {raw!r}")
    return first, longest, window
