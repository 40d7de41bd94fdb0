"""Turkish and English: every visible string translated, money formatted per locale."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from kiosk.web import format as fmt

from ..support import Customer, field

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "kiosk" / "translations" / "tr" / "LC_MESSAGES" / "messages.po"


def extracted() -> set[str]:
    method_map = [("kiosk/**.py", "python"), ("templates/kiosk/**.html", "jinja2"),
                  ("templates/*.html", "jinja2"), ("templates/operator/**.html", "jinja2"),
                  ("templates/display/**.html", "jinja2"), ("templates/till/**.html", "jinja2")]
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_visible_string_has_a_turkish_translation():
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    messages = extracted()
    assert len(messages) > 40
    missing = sorted(m for m in messages if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], f"add Turkish for: {missing}"
    # `make catalog` guesses from similar entries and marks the guess fuzzy: a guess is not Turkish.
    guessed = sorted(m for m in messages if catalog.get(m).fuzzy)
    assert guessed == [], f"check the Turkish of: {guessed}"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1234.567891"), "1234.567891"),  # no grouping: a wallet would misread it
        (Decimal("24.04"), "24.04"),
        (Decimal("0.12345678"), "0.123457"),  # what the customer sends: up to TRX's 6 decimals
        (Decimal("5"), "5"),
    ],
)
@pytest.mark.parametrize("locale", ["tr", "en"])
def test_coin_amounts_read_the_same_in_every_language(app, amount, text, locale):
    with app.test_request_context():
        from flask import render_template_string

        html = render_template_string("{{ a|coin_due('TRX', 'TRX') }}|{{ a|fiat(locale) }}", a=amount,
                                      locale=locale)
    coin, fiat = html.split("|")
    assert coin == text
    assert fiat == fmt.fiat(amount, locale)


def test_turkish_by_default_with_lang_set(web):
    html = web.get("/").get_data(as_text=True)
    assert '<html lang="tr">' in html and "Ödenecek tutar" in html and "Amount to pay" not in html
    assert 'data-testid="language"' in html and ">English<" in html


def test_language_toggle_then_next_customer_gets_the_default(web, sandbox):
    html = web.get("/").get_data(as_text=True)
    web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en"})
    html = web.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html and "Amount to pay" in html and "₺100,000.00" in html
    assert ">Türkçe<" in html
    customer = Customer(web, sandbox)
    response = customer.enter("5")
    assert response.status_code == 302
    assert "Choose how to pay" in web.get("/coin").get_data(as_text=True)
    tx_id = customer.choose().headers["Location"].rsplit("/", 1)[1]
    sandbox.pay(tx_id, share="full")
    result = web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert "Payment received" in result
    web.post("/done", data={"csrf_token": field(result, "csrf_token")})
    assert '<html lang="tr">' in web.get("/").get_data(as_text=True)


def test_idle_reset_restores_the_default_language(web):
    html = web.get("/").get_data(as_text=True)
    web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en"})
    html = web.get("/").get_data(as_text=True)
    assert "data-idle-reset" in html  # only when there is something to reset
    web.post("/reset", data={"csrf_token": field(html, "csrf_token"), "idle": "1"})
    html = web.get("/").get_data(as_text=True)
    assert '<html lang="tr">' in html and "data-idle-reset" not in html


def test_unknown_language_changes_nothing(web):
    html = web.get("/").get_data(as_text=True)
    web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "xx"})
    assert '<html lang="tr">' in web.get("/").get_data(as_text=True)


def test_english_messages_for_bad_input(web, sandbox):
    html = web.get("/").get_data(as_text=True)
    web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en"})
    html = Customer(web, sandbox).enter("0.5").get_data(as_text=True)
    assert "The smallest amount is ₺1.00." in html


def test_english_default_locale(make_app):
    html = make_app(DEFAULT_LOCALE="en").test_client().get("/").get_data(as_text=True)
    assert '<html lang="en">' in html and "Amount to pay" in html
