"""The shop's tills, without Flask: their API keys, their webhooks, and a display and a
checkout as the till API and its webhooks show them (JSON-ready dictionaries). The till API
blueprint (kiosk/api) reads requests and calls these; the jobs deliver the webhooks."""

from .keys import ApiKeys, KeyError_
from .webhooks import Webhooks

__all__ = ["ApiKeys", "KeyError_", "Webhooks"]
