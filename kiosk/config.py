"""The KIOSK_* settings: defaults, and validation that stops the start with one clear line."""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

SANDBOX_URL = "http://127.0.0.1:8001"
DEMO_PIN = "246810"  # the demo's operator PIN; a shop always sets its own

# `kiosk demo` (and tests that ask for it) pass DEMO=True in create_app's mapping: the kiosk then
# runs its own sandbox, with a generated secret key and the demo PIN. It is not a KIOSK_* setting:
# create_app drops a DEMO read from the environment, so no shop switches it on by accident.
DEMO = "DEMO"

# Every setting, read from KIOSK_<NAME>; the README's configuration table mirrors this.
DEFAULTS: dict[str, Any] = {
    "API_URL": None,  # required; only the demo runs without it, against its own sandbox
    "API_EMAIL": None,
    "API_PASSWORD": None,
    "SECRET_KEY": None,
    "STATE_DIR": None,  # default: the Flask instance folder
    "COINS": "TRX:TRX,USDT:TRX",
    "MIN_AMOUNT": "1",
    "MAX_AMOUNT": "100000",
    "PAYMENT_TIMEOUT": 600,
    "POLL_INTERVAL": 2,
    "WATCH_INTERVAL": 15,
    "RESULT_SECONDS": 10,
    "IDLE_SECONDS": 60,
    "ASK_MOBILE": False,
    "ASK_NOTE": False,
    "DEFAULT_LOCALE": "tr",
    "SHOP_NAME": "Cryptom Pay",
    "OPERATOR_PIN": None,  # unset: the operator area is off (the demo's is DEMO_PIN)
    "RECEIPTS": False,
    "TIMEZONE": "Europe/Istanbul",
    "SECURE_COOKIES": False,  # on when the kiosk is served over HTTPS
    "BEHIND_PROXY": False,  # read X-Forwarded-* from the trusted proxies
    "TRUSTED_PROXIES": "127.0.0.0/8,::1",  # the proxies whose X-Forwarded-* count: addresses, CIDRs
    "REDIS_URL": None,  # a fleet: sessions, tokens, guards and deadlines shared in Redis
    "CREATE_LIMIT": "10/60",  # new payments per kiosk session and per client address: N/seconds
    "LOG_FORMAT": "json",  # json lines, or text
    "REQUIRE_PAIRING": False,  # true: only paired displays reach the customer screens
    "CASHIER_PIN": None,  # opens the cashier console at /till (the operator PIN opens it too)
    "LOGO": None,  # an image file shown on the displays' welcome screen
    "SOUNDS": True,  # a short sound on the result screens
    "API_RATE_LIMIT": "600/60",  # till API requests per key: N/seconds
    "WEBHOOK_URL": None,  # where the till API's webhooks go (https:// in production)
    "WEBHOOK_SECRET": None,  # whsec_... (Standard Webhooks): the receiver checks signatures with it
    "WEBHOOK_BACKOFF": "5/3600",  # retries: the first after N s, doubling up to M s, for 3 days
}


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


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_email: str
    api_password: str
    uses_sandbox: bool
    state_dir: Path
    coins: tuple[Coin, ...]
    min_amount: Decimal
    max_amount: Decimal
    payment_timeout: int
    poll_interval: int
    result_seconds: int
    idle_seconds: int
    ask_mobile: bool
    ask_note: bool
    default_locale: str
    shop_name: str
    operator_pin: str | None
    receipts: bool
    timezone: ZoneInfo
    secure_cookies: bool = False
    behind_proxy: bool = False
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    redis_url: str | None = None
    create_limit: tuple[int, int] = (10, 60)
    log_format: str = "json"
    currency: str = "TRY"
    require_pairing: bool = False
    cashier_pin: str | None = None
    logo: Path | None = None
    sounds: bool = True
    api_rate_limit: tuple[int, int] = (600, 60)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_backoff: tuple[float, float] = (5.0, 3600.0)
    watch_interval: int = 15

    def coin(self, key: str) -> Coin | None:
        return next((c for c in self.coins if c.key == key), None)


def _amount(config: dict[str, Any], name: str) -> Decimal:
    raw = config.get(name)
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ConfigError(f"KIOSK_{name} must be an amount in lira, got {raw!r}") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ConfigError(f"KIOSK_{name} must be a positive amount with at most 2 decimals, got {raw!r}")
    return value


def _seconds(config: dict[str, Any], name: str, low: int, high: int) -> int:
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


def _flag(config: dict[str, Any], name: str) -> bool:
    raw = config.get(name)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", "", "none"}:
        return False
    raise ConfigError(f"KIOSK_{name} must be true or false, got {raw!r}")


def _pin(raw: Any, demo: bool) -> str | None:
    if raw in (None, ""):
        return DEMO_PIN if demo else None
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]{6,12}", text):
        raise ConfigError("KIOSK_OPERATOR_PIN must be 6 to 12 digits")
    return text


def _cashier_pin(raw: Any, operator_pin: str | None) -> str | None:
    if raw in (None, ""):
        return None
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]{6,12}", text):
        raise ConfigError("KIOSK_CASHIER_PIN must be 6 to 12 digits")
    if text == operator_pin:
        raise ConfigError("KIOSK_CASHIER_PIN must differ from KIOSK_OPERATOR_PIN")
    return text


LOGO_TYPES = {".png", ".svg", ".jpg", ".jpeg", ".webp"}


def _logo(raw: Any) -> Path | None:
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


def _api_url(raw: Any, demo: bool) -> str:
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


def _networks(raw: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in filter(None, (part.strip() for part in str(raw or "").split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError("KIOSK_TRUSTED_PROXIES must list addresses or networks, comma "
                              f"separated, like 127.0.0.1,10.0.0.0/8; got {item!r}") from None
    return tuple(networks)


def _zone(raw: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(raw or "Europe/Istanbul"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"KIOSK_TIMEZONE must be a zone name like Europe/Istanbul, got {raw!r}") from None


def _redis(raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    if not re.fullmatch(r"rediss?://\S+|unix://\S+", str(raw)):
        raise ConfigError("KIOSK_REDIS_URL must be a redis:// or rediss:// URL")
    return str(raw)


def _limit(raw: Any, name: str = "CREATE_LIMIT") -> tuple[int, int]:
    match = re.fullmatch(r"\s*([0-9]{1,6})\s*/\s*([0-9]{1,6})\s*", str(raw or ""))
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ConfigError(f"KIOSK_{name} must read COUNT/SECONDS like 10/60, got {raw!r}")
    return int(match.group(1)), int(match.group(2))


def _webhook(config: dict[str, Any]) -> tuple[str | None, str | None]:
    url, secret = config.get("WEBHOOK_URL") or None, config.get("WEBHOOK_SECRET") or None
    if url is None and secret is None:
        return None, None
    if url is None or secret is None:
        raise ConfigError("KIOSK_WEBHOOK_URL and KIOSK_WEBHOOK_SECRET go together: set both or neither")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", str(url)):
        raise ConfigError(f"KIOSK_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    if not re.fullmatch(r"whsec_[A-Za-z0-9+/=]{24,}", str(secret)):
        raise ConfigError("KIOSK_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ and base64")
    return str(url), str(secret)


def _backoff(raw: Any) -> tuple[float, float]:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*([0-9]+(?:\.[0-9]+)?)\s*", str(raw or ""))
    if not match or not 0 < float(match.group(1)) <= float(match.group(2)) <= 86400:
        raise ConfigError(f"KIOSK_WEBHOOK_BACKOFF must read FIRST/MAX seconds like 5/3600, got {raw!r}")
    return float(match.group(1)), float(match.group(2))


def _choice(config: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = str(config.get(name) or allowed[0]).strip().lower()
    if value not in allowed:
        raise ConfigError(f"KIOSK_{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _coins(raw: Any) -> tuple[Coin, ...]:
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


def load(config: dict[str, Any], instance_path: str) -> Settings:
    """Validate the Flask config (already filled from KIOSK_*) and return typed settings.

    Also fills SECRET_KEY: required, except in the demo, which generates one and keeps it in the
    state folder.
    """
    state_dir = Path(config.get("STATE_DIR") or instance_path)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"KIOSK_STATE_DIR cannot be created: {state_dir} ({exc.strerror})") from None

    demo = config.get(DEMO) is True
    api_url = _api_url(config.get("API_URL"), demo)
    email = config.get("API_EMAIL") or (DEFAULT_EMAIL if demo else None)
    password = config.get("API_PASSWORD") or (DEFAULT_PASSWORD if demo else None)
    if not email:
        raise ConfigError("KIOSK_API_EMAIL is required when KIOSK_API_URL is set")
    if not password:
        raise ConfigError("KIOSK_API_PASSWORD is required when KIOSK_API_URL is set")

    if not config.get("SECRET_KEY"):
        if not demo:
            raise ConfigError("KIOSK_SECRET_KEY is required: a long random string, e.g. "
                              "from `python -c 'import secrets; print(secrets.token_hex(32))'`")
        config["SECRET_KEY"] = _sandbox_secret(state_dir)
    elif len(str(config["SECRET_KEY"])) < 16:
        raise ConfigError("KIOSK_SECRET_KEY is too short: use at least 16 random characters")

    settings = Settings(
        api_url=api_url,
        api_email=str(email),
        api_password=str(password),
        uses_sandbox=demo,
        state_dir=state_dir,
        coins=_coins(config.get("COINS")),
        min_amount=_amount(config, "MIN_AMOUNT"),
        max_amount=_amount(config, "MAX_AMOUNT"),
        payment_timeout=_seconds(config, "PAYMENT_TIMEOUT", 5, 86400),
        poll_interval=_seconds(config, "POLL_INTERVAL", 1, 60),
        result_seconds=_seconds(config, "RESULT_SECONDS", 1, 600),
        idle_seconds=_seconds(config, "IDLE_SECONDS", 5, 3600),
        ask_mobile=_flag(config, "ASK_MOBILE"),
        ask_note=_flag(config, "ASK_NOTE"),
        default_locale=str(config.get("DEFAULT_LOCALE") or "tr"),
        shop_name=str(config.get("SHOP_NAME") or "Cryptom Pay"),
        operator_pin=_pin(config.get("OPERATOR_PIN"), demo),
        receipts=_flag(config, "RECEIPTS"),
        timezone=_zone(config.get("TIMEZONE")),
        secure_cookies=_flag(config, "SECURE_COOKIES"),
        behind_proxy=_flag(config, "BEHIND_PROXY"),
        trusted_proxies=_networks(config.get("TRUSTED_PROXIES")),
        redis_url=_redis(config.get("REDIS_URL")),
        create_limit=_limit(config.get("CREATE_LIMIT")),
        log_format=_choice(config, "LOG_FORMAT", ("json", "text")),
        require_pairing=_flag(config, "REQUIRE_PAIRING"),
        logo=_logo(config.get("LOGO")),
        sounds=_flag(config, "SOUNDS"),
        api_rate_limit=_limit(config.get("API_RATE_LIMIT"), "API_RATE_LIMIT"),
        webhook_backoff=_backoff(config.get("WEBHOOK_BACKOFF")),
        watch_interval=_seconds(config, "WATCH_INTERVAL", 1, 600),
    )
    url, secret = _webhook(config)
    settings = replace(settings, webhook_url=url, webhook_secret=secret)
    settings = replace(settings, cashier_pin=_cashier_pin(config.get("CASHIER_PIN"), settings.operator_pin))
    if settings.min_amount > settings.max_amount:
        raise ConfigError("KIOSK_MIN_AMOUNT must not be above KIOSK_MAX_AMOUNT")
    if settings.default_locale not in {"tr", "en"}:
        raise ConfigError(f"KIOSK_DEFAULT_LOCALE must be tr or en, got {settings.default_locale!r}")
    return settings


def _sandbox_secret(state_dir: Path) -> str:
    path = state_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
