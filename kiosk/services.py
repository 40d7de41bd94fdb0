"""Everything the kiosk works with, built once per process from the settings: the shared store,
the upstream client, the checkout rules, the displays and their orders, the tills' webhooks, the
ledger, the receipts' print jobs and the job queue. Each part is handed what it needs when it is
built; parts below tell the ones above through blinker signals (a checkout due for the watcher, a
webhook due for delivery, a print due), never through attributes set afterwards. The web app
(kiosk.app), the job consumer (`kiosk worker`) and the demo build the same services; `kiosk()`
finds the app's from a request."""

from __future__ import annotations

import logging

import redis
from flask import current_app

from .checkout import Checkout, LocalStore, RedisStore, Store
from .checkout.booking import Booking, follow, store_checkouts, store_items
from .checkout.hold import Holds
from .checkout.rates import Window, storage_for
from .clock import now
from .config import Settings
from .cryptom import CryptomClient, FileTokenStore, RedisTokenStore, TokenStore
from .displays import Displays, Orders
from .displays.registry import NEW_CODES
from .jobs import Jobs, make_queue
from .ledger import Ledger, Upgraded, describe, make_engine, sqlite_url
from .printing.jobs import Prints, Retry
from .printing.receipt import Shop
from .tills import Webhooks

log = logging.getLogger("kiosk.ledger")


class Services:
    """With KIOSK_REDIS_URL everything shared lives in Redis (a fleet of instances); without
    it, in files on this host."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = now()
        self.redis = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
        tokens: TokenStore
        if self.redis is not None:
            tokens = RedisTokenStore(self.redis)
            self.store: Store = RedisStore(self.redis)
        else:
            tokens = FileTokenStore(settings.state_dir / "cryptom-token.json")
            self.store = LocalStore(settings.state_dir / "kiosk.sqlite3")
        # Rate limits count here: in Redis for a fleet, else in the store every worker shares.
        self.rates = storage_for(self.store, self.redis)
        self.client = CryptomClient(
            settings.api_url, settings.api_email, settings.api_password, token_store=tokens,
            login_key=settings.secret_key,
        )
        # The sales ledger: SQLite in the state folder, or the fleet's PostgreSQL. Each checkout's
        # row holds its state (written by its runner), each order's row its status (the booking).
        self.ledger = Ledger(make_engine(settings.database_url or sqlite_url(settings.state_dir)),
                             seed=lambda: store_checkouts(self.store, settings.currency),
                             items=lambda: store_items(self.store))
        self.checkout = Checkout(
            self.client, self.store, ledger=self.ledger, payment_timeout=settings.payment_timeout,
            currency=settings.currency,
            create_limit=Window(self.rates, "create", settings.create_limit),
            # Half a poll interval: one tab never sees a stale answer, a second tab shares it.
            share_seconds=settings.poll_interval / 2,
            watch_interval=settings.watch_interval,
        )
        # A result that sends the customer to the cashier stays until staff end it.
        self.holds = Holds(self.store, settings.partial_hold_seconds)
        self.displays = Displays(self.store, new_codes=Window(self.rates, "pairing", NEW_CODES))
        self.orders = Orders(self.store, self.checkout, self.displays, min_amount=settings.min_amount,
                             max_amount=settings.max_amount, currency=settings.currency)
        self.webhooks: Webhooks | None = None
        if settings.webhook_url and settings.webhook_secret:
            self.webhooks = Webhooks(self.store, self.orders, settings.webhook_url, settings.webhook_secret,
                                     backoff=settings.webhook_backoff)
        self.booking = Booking(self.ledger, self.store, currency=settings.currency)
        follow(self.checkout, self.orders, self.booking)
        # Receipts: with KIOSK_AUTO_PRINT=printer one prints on paid (a follower after the booking,
        # so the ledger's row is written first); reprints from the screens.
        first, longest, window = settings.print_retry
        self.prints = Prints(
            self.store, self.ledger,
            shop=Shop(settings.shop_name, settings.shop_address, settings.shop_tax_number, settings.timezone),
            printer=settings.printer, mode=settings.auto_print, default_language=settings.default_locale,
            currency=settings.currency, retry=Retry(first, longest, window),
        )
        self.checkout.followers.append(self.prints)
        # Last: the queue runs the jobs of all the above, and wakes when they say they are due.
        self.jobs = Jobs(make_queue(settings.state_dir, settings.redis_url), self.checkout, self.store,
                         self.orders, webhooks=self.webhooks, booking=self.booking, prints=self.prints)
        self.ledger_upgrade: Upgraded | None = None

    def upgrade_ledger(self) -> Upgraded | None:
        """The ledger's schema up to date: `kiosk serve` (before its workers start), `kiosk worker`
        and `kiosk demo` call this as they start (`kiosk db upgrade` does only this); in any other
        process the first write upgrades it. A ledger that does not answer never stops the kiosk
        taking payments: its writes wait in the store, and the first that reaches it upgrades it."""
        if self.settings.redis_url and not self.settings.database_url:
            log.warning("a fleet (KIOSK_REDIS_URL) with the ledger in this host's SQLite: each host "
                        "keeps only the sales it saw. Set KIOSK_DATABASE_URL to the fleet's PostgreSQL")
        try:
            done = self.ledger_upgrade = self.ledger.upgrade()
        except Exception as exc:
            log.warning("the ledger (%s) could not be upgraded (%s); payments go on and its entries "
                        "wait in the store", describe(self.ledger.engine), type(exc).__name__)
            return None
        if done.before != done.after:
            log.info("the ledger (%s) was upgraded from %s to %s; %d checkouts imported from the store",
                     describe(self.ledger.engine), done.before or "nothing", done.after, done.imported)
        return done


def kiosk() -> Services:
    """The app's services, from a view or anything else that runs in a request (kiosk.app puts
    them in the app's extensions)."""
    services: Services = current_app.extensions["kiosk"]
    return services
