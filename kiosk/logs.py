"""Logs as JSON lines with a request id. Secrets never get in: tokens, passwords and full
mobile numbers are masked on the way out, whoever wrote the message."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_MASKS = [
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), "***jwt***"),
    (re.compile(r'("?password"?\s*[:=]\s*)"[^"]*"', re.IGNORECASE), r'\1"***"'),
    # a phone number keeps its country code and last two digits: +90*******67
    (re.compile(r"(\+\d{2})\d{6,11}(\d{2})\b"), r"\1*******\2"),
]


# Control characters a client may slip into what gets logged (a path, an upstream message): a
# newline would start a forged line in the text format, an escape sequence would drive a terminal.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def one_line(text: str) -> str:
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)


class Masking(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = one_line(mask(record.getMessage()))
        record.args = ()
        record.request_id = request_id.get()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key in ("event", "tx", "client", "amount", "currency", "coin", "coin_amount", "received",
                    "display", "order", "mode", "key", "reference"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if isinstance(entry.get("reference"), str):  # the shop's text: masked as a message is
            entry["reference"] = mask(entry["reference"])
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    """Route every logger (ours, gunicorn's, werkzeug's) through the masking JSON handler."""
    handler = logging.StreamHandler()
    handler.addFilter(Masking())
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        text = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        handler.setFormatter(logging.Formatter(text))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
