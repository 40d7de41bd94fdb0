"""The KIOSK_* settings: defaults, and validation that stops the start with one clear line."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import money
from . import settings_parse as parse
from .printing.address import Printer
from .sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD
from .settings_parse import DEMO_PIN, SANDBOX_URL, Coin, ConfigError

__all__ = ["DEFAULTS", "DEMO", "DEMO_PIN", "SANDBOX_URL", "Coin", "ConfigError", "Settings", "load"]


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
    "CURRENCY": "TRY",  # the shop's pricing currency, an ISO 4217 code
    "MIN_AMOUNT": "1",
    "MAX_AMOUNT": "100000",
    "PAYMENT_TIMEOUT": 600,
    "POLL_INTERVAL": 2,
    "WATCH_INTERVAL": 15,
    "RESULT_SECONDS": 10,
    "PARTIAL_HOLD_SECONDS": 600,  # a result that sends the customer to the cashier stays this long
    "IDLE_SECONDS": 60,
    "ASK_MOBILE": False,
    "ASK_NOTE": False,
    "LANGUAGES": "tr,en",  # the customer's languages, the shop's own first
    "DEFAULT_LOCALE": None,  # unset: the first of LANGUAGES
    "SHOP_NAME": "Cryptom Pay",
    "OPERATOR_PIN": None,  # unset: the operator area is off (the demo's is DEMO_PIN)
    "RECEIPTS": False,
    "TIMEZONE": "Europe/Istanbul",
    "SECURE_COOKIES": False,  # on when the kiosk is served over HTTPS
    "BEHIND_PROXY": False,  # read X-Forwarded-* from the trusted proxies
    "TRUSTED_PROXIES": "127.0.0.0/8,::1",  # the proxies whose X-Forwarded-* count: addresses, CIDRs
    "REDIS_URL": None,  # a fleet: sessions, tokens, guards and deadlines shared in Redis
    "DATABASE_URL": None,  # the sales ledger in PostgreSQL (a fleet); unset: SQLite in the state folder
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
    "TIPS": None,  # tip presets in percent, e.g. 5,10,15; unset: no tip screen
    "SHOP_ADDRESS": None,  # printed on receipts: lines separated by |
    "SHOP_TAX_NUMBER": None,  # printed on receipts
    "PRINTER_URL": None,  # the shop's receipt printer: tcp://HOST:9100 (ESC/POS over raw TCP)
    "PRINTER_COLUMNS": "48",  # its paper: 48 columns (80 mm) or 32 (58 mm)
    "AUTO_PRINT": "off",  # off (a button), printer (ESC/POS on paid), browser (the tablet prints)
    "PRINT_RETRY": "2/60/3600",  # a print not taken: again after N s, doubling up to M s, for W s
}


@dataclass(frozen=True)
class Settings:
    # Printed (a debug line, an error report), the settings show no password, PIN or secret.
    api_url: str
    api_email: str
    api_password: str = field(repr=False)
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
    languages: tuple[str, ...]
    shop_name: str
    operator_pin: str | None = field(repr=False)
    receipts: bool
    timezone: ZoneInfo
    secure_cookies: bool = False
    behind_proxy: bool = False
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    redis_url: str | None = None
    database_url: str | None = field(default=None, repr=False)  # None: SQLite in the state folder
    create_limit: tuple[int, int] = (10, 60)
    log_format: str = "json"
    currency: str = money.DEFAULT
    require_pairing: bool = False
    cashier_pin: str | None = field(default=None, repr=False)
    logo: Path | None = None
    sounds: bool = True
    api_rate_limit: tuple[int, int] = (600, 60)
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_backoff: tuple[float, float] = (5.0, 3600.0)
    watch_interval: int = 15
    tips: tuple[Decimal, ...] = ()  # percentages offered on the tip screen; none: no tip screen
    shop_address: tuple[str, ...] = ()
    shop_tax_number: str | None = None
    printer: Printer | None = None
    auto_print: str = "off"
    print_retry: tuple[float, float, float] = (2.0, 60.0, 3600.0)
    partial_hold_seconds: int = 600
    # SECRET_KEY, for the digests that must not be computable from the store alone.
    secret_key: str = field(default="", repr=False)

    def coin(self, key: str) -> Coin | None:
        return next((c for c in self.coins if c.key == key), None)


def load(config: dict[str, Any], instance_path: str) -> Settings:
    """Validate the Flask config (already filled from KIOSK_*) and return typed settings.

    Also fills SECRET_KEY: required, except in the demo, which generates one and keeps it in the
    state folder.
    """
    state_dir = Path(config.get("STATE_DIR") or instance_path)
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"KIOSK_STATE_DIR cannot be created: {state_dir} ({exc.strerror})") from None
    try:
        # The upstream token, the sessions and a store whose keys name live session ids: the
        # kiosk's user alone may read or even list it, whoever made the folder.
        state_dir.chmod(0o700)
    except OSError as exc:
        raise ConfigError(f"KIOSK_STATE_DIR must belong to the kiosk's user: {state_dir} "
                          f"({exc.strerror})") from None

    demo = config.get(DEMO) is True
    api_url = parse.api_url(config.get("API_URL"), demo)
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

    currency = parse.currency(config.get("CURRENCY"))
    languages, default_locale = parse.languages(config.get("LANGUAGES"), config.get("DEFAULT_LOCALE"))
    settings = Settings(
        api_url=api_url,
        api_email=str(email),
        api_password=str(password),
        uses_sandbox=demo,
        state_dir=state_dir,
        coins=parse.coins(config.get("COINS")),
        currency=currency,
        min_amount=parse.amount(config, "MIN_AMOUNT", currency),
        max_amount=parse.amount(config, "MAX_AMOUNT", currency),
        payment_timeout=parse.seconds(config, "PAYMENT_TIMEOUT", 5, 86400),
        poll_interval=parse.seconds(config, "POLL_INTERVAL", 1, 60),
        result_seconds=parse.seconds(config, "RESULT_SECONDS", 1, 600),
        idle_seconds=parse.seconds(config, "IDLE_SECONDS", 5, 3600),
        ask_mobile=parse.flag(config, "ASK_MOBILE"),
        ask_note=parse.flag(config, "ASK_NOTE"),
        default_locale=default_locale,
        languages=languages,
        shop_name=str(config.get("SHOP_NAME") or "Cryptom Pay"),
        operator_pin=parse.pin(config.get("OPERATOR_PIN"), demo),
        receipts=parse.flag(config, "RECEIPTS"),
        timezone=parse.zone(config.get("TIMEZONE")),
        secure_cookies=parse.flag(config, "SECURE_COOKIES"),
        behind_proxy=parse.flag(config, "BEHIND_PROXY"),
        trusted_proxies=parse.networks(config.get("TRUSTED_PROXIES")),
        redis_url=parse.redis_url(config.get("REDIS_URL")),
        database_url=parse.database_url(config.get("DATABASE_URL")),
        create_limit=parse.limit(config.get("CREATE_LIMIT")),
        log_format=parse.choice(config, "LOG_FORMAT", ("json", "text")),
        require_pairing=parse.flag(config, "REQUIRE_PAIRING"),
        logo=parse.logo(config.get("LOGO")),
        sounds=parse.flag(config, "SOUNDS"),
        api_rate_limit=parse.limit(config.get("API_RATE_LIMIT"), "API_RATE_LIMIT"),
        webhook_backoff=parse.backoff(config.get("WEBHOOK_BACKOFF")),
        watch_interval=parse.seconds(config, "WATCH_INTERVAL", 1, 600),
        tips=parse.tips(config.get("TIPS")),
        shop_address=parse.address(config.get("SHOP_ADDRESS")),
        shop_tax_number=parse.tax_number(config.get("SHOP_TAX_NUMBER")),
        printer=parse.printer(config.get("PRINTER_URL"), config.get("PRINTER_COLUMNS")),
        auto_print=parse.choice(config, "AUTO_PRINT", ("off", "printer", "browser")),
        print_retry=parse.print_retry(config.get("PRINT_RETRY")),
        partial_hold_seconds=parse.seconds(config, "PARTIAL_HOLD_SECONDS", 10, 86400),
    )
    url, secret = parse.webhook(config)
    cashier_pin = parse.cashier_pin(config.get("CASHIER_PIN"), settings.operator_pin)
    settings = replace(settings, webhook_url=url, webhook_secret=secret, cashier_pin=cashier_pin,
                       secret_key=str(config["SECRET_KEY"]))
    if settings.min_amount > settings.max_amount:
        raise ConfigError("KIOSK_MIN_AMOUNT must not be above KIOSK_MAX_AMOUNT")
    if settings.auto_print == "printer" and settings.printer is None:
        raise ConfigError("KIOSK_AUTO_PRINT=printer needs KIOSK_PRINTER_URL, the shop's receipt printer")
    return settings


def _sandbox_secret(state_dir: Path) -> str:
    path = state_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
