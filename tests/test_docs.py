"""The configuration reference never drifts from the code."""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.config import DEFAULTS
from kiosk.sandbox import create_sandbox_app

ROOT = Path(__file__).resolve().parents[1]


def documented() -> dict[str, str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    rows = re.findall(r"^\| `KIOSK_([A-Z_]+)` \| (.*?) \|", text, re.MULTILINE)
    return {name: default.strip().strip("`") for name, default in rows}


def in_code() -> dict[str, str]:
    """Every KIOSK_* setting the code reads, with its default as the docs should write it."""
    def show(value) -> str:
        if value is None:
            return "(unset)"
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)

    settings = {name: show(value) for name, value in DEFAULTS.items()}
    sandbox = create_sandbox_app().config
    for name in ("SANDBOX_EMAIL", "SANDBOX_PASSWORD", "SANDBOX_TOKEN_TTL_MS", "SANDBOX_RATES"):
        settings[name] = show(sandbox[name])
    for path in (ROOT / "kiosk").rglob("*.py"):
        for name, default in re.findall(r'environ\.get\("KIOSK_([A-Z_]+)", "([^"]*)"\)', path.read_text()):
            settings.setdefault(name, default)
    return settings


def test_every_setting_is_documented_with_its_default():
    docs, code = documented(), in_code()
    assert sorted(set(code) - set(docs)) == [], "settings missing from docs/configuration.md"
    assert sorted(set(docs) - set(code)) == [], "docs/configuration.md names settings the code ignores"
    wrong = {name: (docs[name], code[name]) for name in code if docs[name] != code[name]}
    assert wrong == {}, "documented defaults differ from the code's"
