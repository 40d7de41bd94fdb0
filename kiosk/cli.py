"""The `kiosk` command: sandbox, demo, serve, worker."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from werkzeug.serving import make_server

from . import logs
from .config import DEMO, DEMO_PIN, SANDBOX_URL


def _serve_threads(servers: list[tuple[str, Any]]) -> None:
    threads = []
    for _, server in servers:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    finally:
        for _, server in servers:
            server.shutdown()


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox import DEFAULT_EMAIL, create_sandbox_app

    server = make_server(args.host, args.port, create_sandbox_app(), threaded=True)
    print(f"Cryptom Pay sandbox on http://{args.host}:{server.server_port}  "
          f"(merchant {DEFAULT_EMAIL}; controls at /sandbox)", flush=True)
    _serve_threads([("sandbox", server)])
    return 0


def cmd_pay(args: argparse.Namespace) -> int:
    import requests

    body = {"amount": args.amount} if args.amount else {"share": "full"}
    try:
        r = requests.post(f"{args.url.rstrip('/')}/sandbox/transactions/{args.id}/pay",
                          json=body, timeout=5)
    except requests.RequestException:
        print(f"kiosk: the sandbox at {args.url} is not running", file=sys.stderr)
        return 1
    if r.status_code != 200:
        print(f"kiosk: {r.json().get('message', r.text)}", file=sys.stderr)
        return 1
    tx = r.json()["data"]
    print(f"{tx['_id']}: received {tx['totalTransferAmount']} of {tx['coinAmount']} {tx['coin']}, "
          f"status {tx['status']}, complete {str(tx['isTransferComplete']).lower()}")
    return 0


def _reachable(host: str) -> str:
    """The address other devices use: with --host 0.0.0.0, this machine's address on its network."""
    if host not in ("0.0.0.0", ""):  # noqa: S104 - only compares, binds nothing
        return host
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # sends nothing: only picks the outgoing interface
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def cmd_demo(args: argparse.Namespace) -> int:
    from .app import create_app
    from .jobs import Runner
    from .sandbox import create_sandbox_app

    # The demo kiosk always talks to its own sandbox, whatever the environment says.
    for name in ("KIOSK_API_URL", "KIOSK_API_EMAIL", "KIOSK_API_PASSWORD"):
        os.environ.pop(name, None)
    sandbox_app = create_sandbox_app()
    sandbox = make_server("127.0.0.1", args.sandbox_port, sandbox_app, threaded=True)
    # --printer tcp://HOST:9100: the shop's receipt printer, printing every paid payment.
    printing = {"PRINTER_URL": args.printer, "AUTO_PRINT": "printer",
                "PRINTER_COLUMNS": args.printer_columns} if args.printer else {}
    app = create_app({
        DEMO: True,  # the demo PIN and a generated secret key, for this sandbox only
        "API_URL": f"http://127.0.0.1:{sandbox.server_port}",
        "API_EMAIL": sandbox_app.config["SANDBOX_EMAIL"],
        "API_PASSWORD": sandbox_app.config["SANDBOX_PASSWORD"],
        **printing,
    })
    app.extensions["kiosk"].upgrade_ledger()
    kiosk = make_server(args.host, args.port, app, threaded=True)
    # The watcher runs in this process too: deadlines, late coins and reconciliation.
    watcher = Runner(app.extensions["kiosk"].jobs).start()
    base = f"http://{_reachable(args.host)}:{kiosk.server_port}"
    print(f"Kiosk:   {base}/", flush=True)
    print(f"Display: {base}/display   (a tablet facing the customer: pair it in the operator area)")
    print(f"Staff:   {base}/operator  (demo PIN {DEMO_PIN})")
    print(f"Console: {base}/till      (the cashier's phone or PC; the same PIN opens it)")
    print(f"Sandbox: http://127.0.0.1:{sandbox.server_port}/sandbox  (pay demo payments here)")
    if args.printer:
        print(f"Printer: {args.printer}  (a receipt for every paid payment)")
    print("Press Ctrl-C to stop both.", flush=True)
    try:
        _serve_threads([("sandbox", sandbox), ("kiosk", kiosk)])
    finally:
        watcher.stop()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import run

    return run()


def cmd_keys(args: argparse.Namespace) -> int:
    """The till API's keys, in the store the kiosk uses (KIOSK_STATE_DIR or KIOSK_REDIS_URL)."""
    from .app import create_app
    from .tills import ApiKeys, KeyError_

    keys = ApiKeys(create_app().extensions["kiosk"].store)
    if args.action == "create":
        try:
            key = keys.create(args.name)
        except KeyError_ as err:
            print(f"kiosk: {err}", file=sys.stderr)
            return 1
        print(key)
        print(f"The key of {args.name!r}: copy it into the till now, it is not shown again.", file=sys.stderr)
        return 0
    if args.action == "revoke":
        if not keys.revoke(args.name):
            print(f"kiosk: no key named {args.name!r}", file=sys.stderr)
            return 1
        print(f"revoked {args.name}")
        return 0
    def moment(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")

    for item in keys.all():
        used = keys.last_used(item.name)
        print(f"{item.name}\t…{item.hint}\tcreated {moment(item.created)}\t"
              + (f"last used {moment(used)}" if used is not None else "never used"))
    return 0


def cmd_pin(args: argparse.Namespace) -> int:
    """Ends the operator and cashier PIN locks of every kiosk sharing this store."""
    from .app import create_app
    from .checkout.pin import PinGuard

    services = create_app().extensions["kiosk"]
    locks = PinGuard(services.store, services.settings.operator_pin).unlock()
    logging.getLogger("kiosk.audit").info("pin locks ended from the command line (%d)", locks,
                                          extra={"event": "cli.pin_unlock"})
    print(f"Ended {locks} lock{'s' if locks != 1 else ''}." if locks else "Nothing was locked.")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """`kiosk db upgrade`: the ledger's schema to the newest migration (every start does it too);
    the first upgrade imports the checkouts the key-value store holds."""
    from .app import create_app
    from .ledger import describe

    services = create_app().extensions["kiosk"]
    where = describe(services.ledger.engine)
    try:
        done = services.ledger.upgrade()
    except RedisError:
        raise  # one line, as for every command (main)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"kiosk: the ledger ({where}) could not be upgraded: {type(exc).__name__}"
              + (f": {reason[:300]}" if reason else ""), file=sys.stderr)
        return 1
    if done.before == done.after:
        print(f"The ledger ({where}) is up to date: revision {done.after}.")
    else:
        print(f"The ledger ({where}) was upgraded from {done.before or 'nothing'} to revision "
              f"{done.after}; {done.imported} checkout{'s' if done.imported != 1 else ''} imported "
              "from the store.")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from .app import create_app
    from .jobs import Runner

    app = create_app()  # the same settings, checked the same way, as `kiosk serve`
    services = app.extensions["kiosk"]
    logs.configure(services.settings.log_format)
    services.upgrade_ledger()
    Runner(services.jobs, threads=args.threads, parent=args.parent).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    # The demo and the sandbox talk to a person at a terminal; `kiosk serve` logs JSON lines
    # (KIOSK_LOG_FORMAT) through its gunicorn hooks.
    logs.configure("text")
    parser = argparse.ArgumentParser(prog="kiosk", description="Cryptom Pay kiosk checkout")
    sub = parser.add_subparsers(dest="command", required=True)

    sb = sub.add_parser("sandbox", help="run the local Cryptom Pay sandbox")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8001)
    sb.set_defaults(func=cmd_sandbox)
    sbsub = sb.add_subparsers(dest="action")
    pay = sbsub.add_parser("pay", help="pay into a sandbox transaction (in full by default)")
    pay.add_argument("id")
    pay.add_argument("--amount", help="coin amount to pay (default: what is still due)")
    pay.add_argument("--url", default=SANDBOX_URL)
    pay.set_defaults(func=cmd_pay)

    demo = sub.add_parser("demo", help="run the kiosk and the sandbox together")
    demo.add_argument("--host", default="127.0.0.1",
                      help="0.0.0.0 to reach the demo from tablets and phones on this network")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--sandbox-port", type=int, default=8001)
    demo.add_argument("--printer", metavar="tcp://HOST:9100",
                      help="a network receipt printer (ESC/POS): every paid payment prints its receipt")
    demo.add_argument("--printer-columns", choices=("48", "32"), default="48",
                      help="the printer's paper: 48 columns (80 mm, the default) or 32 (58 mm)")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="run the kiosk under gunicorn (production)")
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser("keys", help="API keys of the shop's tills (the till API)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    for action, text in (("create", "make a key and print it once"), ("revoke", "revoke a key")):
        one = keys_sub.add_parser(action, help=text)
        one.add_argument("name", help="a name for the till, e.g. till-1")
    keys_sub.add_parser("list", help="the keys: name, last four characters, created, last used")
    keys.set_defaults(func=cmd_keys)

    pin = sub.add_parser("pin", help="the operator and cashier PIN locks")
    pin_sub = pin.add_subparsers(dest="action", required=True)
    pin_sub.add_parser("unlock", help="end every PIN lock now (after strangers locked staff out)")
    pin.set_defaults(func=cmd_pin)

    db = sub.add_parser("db", help="the sales ledger's database")
    db_sub = db.add_subparsers(dest="action", required=True)
    db_sub.add_parser("upgrade", help="bring its schema to the newest version (every start does too)")
    db.set_defaults(func=cmd_db)

    worker = sub.add_parser("worker", help="run the job consumer (the watcher) on its own, for a fleet")
    worker.add_argument("--threads", type=int, default=4)
    worker.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # stop when this process ends
    worker.set_defaults(func=cmd_worker)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RedisError as exc:
        # The shop's owner at a terminal: one line (redis names the host and port, never the
        # password), not a traceback.
        print(f"kiosk: Redis (KIOSK_REDIS_URL) is not answering: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno == 98:
            print(f"kiosk: the port is already in use ({exc.strerror})", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
