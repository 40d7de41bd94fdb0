"""The job queue: Huey, on SQLite in the state folder on one host, on Redis for a fleet.

Messages are JSON, never pickle: whoever can write to the queue's storage (the fleet's Redis)
must not be able to run code in the consumer by planting a message.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from huey import Huey, PriorityRedisHuey, SqliteHuey
from huey.registry import Message
from huey.serializer import Serializer

NAME = "kiosk"


class JsonSerializer(Serializer):
    """Huey's messages (named tuples with datetimes inside) as JSON."""

    def _serialize(self, data: Any) -> bytes:
        return json.dumps(_encode(data), separators=(",", ":")).encode()

    def _deserialize(self, data: bytes) -> Any:
        return json.loads(data, object_hook=_decode)


def _encode(value: Any) -> Any:
    if isinstance(value, Message):
        return {"$message": [_encode(v) for v in value]}
    if isinstance(value, datetime):
        return {"$time": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a job argument must be plain data, not {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if set(obj) == {"$message"}:
        return Message(*obj["$message"])
    if set(obj) == {"$time"}:
        return datetime.fromisoformat(obj["$time"])
    return obj


def make_queue(state_dir: Path, redis_url: str | None) -> Huey:
    """One queue for every process of the kiosk: the web workers put jobs in, the consumer
    (`kiosk serve` starts one per host, `kiosk worker` runs one on its own) takes them out."""
    if redis_url:
        return PriorityRedisHuey(NAME, url=redis_url, results=False, serializer=JsonSerializer())
    return SqliteHuey(NAME, filename=str(state_dir / "jobs.sqlite3"), results=False,
                      serializer=JsonSerializer())
