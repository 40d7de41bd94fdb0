"""The languages: every visible string translated in every shipped language, the customer's choice
and its way back to the shop's, money formatted per locale."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from kiosk.web import format as fmt

from ..support import CASHIER_PIN, STAFF_PIN, Customer, field, unlock_staff

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "kiosk" / "translations"
PO = TRANSLATIONS / "tr" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "Nn_": (1, 2)}


def method_map(config: str) -> list[tuple[str, str]]:
    """The sources a babel .cfg file names: [python: kiosk/**.py] -> ("kiosk/**.py", "python")."""
    found = re.findall(r"^\[(\w+):\s*([^\]]+)\]", (ROOT / config).read_text(), re.M)
    return [(pattern.strip(), method) for method, pattern in found]


def extracted(config: str = "babel.cfg") -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map(config), keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def complete(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(strings) and all(strings)


def test_the_customers_sources_are_among_all_sources():
    assert extracted("babel-customer.cfg") < extracted("babel.cfg")


@pytest.mark.parametrize(("language", "config"), [
    ("tr", "babel.cfg"),  # Turkish: everything, the operator area and the console too
    ("de", "babel-customer.cfg"), ("ru", "babel-customer.cfg"), ("ar", "babel-customer.cfg"),
])
def test_every_visible_string_is_translated_in_every_shipped_language(language, config):
    found = catalog(language)
    messages = extracted(config)
    assert len(messages) > 40
    missing = sorted(m for m in messages if not (found.get(m) and complete(found.get(m))))
    assert missing == [], f"add {language} for: {missing}"
    # `make catalog` guesses from similar entries and marks the guess fuzzy: a guess is no translation.
    guessed = sorted(m for m in messages if found.get(m).fuzzy)
    assert guessed == [], f"check the {language} of: {guessed}"
    # Every plural form written, every placeholder kept (Babel's own checks).
    problems = [(m.id, errors) for m, errors in found.check()]
    assert problems == []


@pytest.mark.parametrize(("language", "forms"), [("tr", 1), ("de", 2), ("ru", 3), ("ar", 6)])
def test_plural_forms_are_the_languages_own(language, forms):
    found = catalog(language)
    assert found.num_plurals == forms
    plurals = [m for m in found if m.id and isinstance(m.id, tuple)]
    assert plurals and all(len(m.string) == forms for m in plurals)


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
    assert fiat == fmt.fiat(amount, locale, "TRY")


def test_turkish_by_default_with_lang_set(web):
    html = web.get("/").get_data(as_text=True)
    assert '<html lang="tr" dir="ltr">' in html and "Ödenecek tutar" in html and "Amount to pay" not in html
    assert 'data-testid="language-en"' in html and ">English<" in html


def test_language_toggle_then_next_customer_gets_the_default(web, sandbox):
    html = web.get("/").get_data(as_text=True)
    web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en"})
    html = web.get("/").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in html and "Amount to pay" in html and "₺100,000.00" in html
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
    assert '<html lang="tr" dir="ltr">' in web.get("/").get_data(as_text=True)


def test_idle_reset_restores_the_default_language(web):
    html = web.get("/").get_data(as_text=True)
    web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en"})
    html = web.get("/").get_data(as_text=True)
    assert "data-idle-reset" in html  # only when there is something to reset
    web.post("/reset", data={"csrf_token": field(html, "csrf_token"), "idle": "1"})
    html = web.get("/").get_data(as_text=True)
    assert '<html lang="tr" dir="ltr">' in html and "data-idle-reset" not in html


def test_unknown_language_changes_nothing(web):
    html = web.get("/").get_data(as_text=True)
    web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "xx"})
    assert '<html lang="tr" dir="ltr">' in web.get("/").get_data(as_text=True)


def test_english_messages_for_bad_input(web, sandbox):
    html = web.get("/").get_data(as_text=True)
    web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en"})
    html = Customer(web, sandbox).enter("0.5").get_data(as_text=True)
    assert "The smallest amount is ₺1.00." in html


def test_english_default_locale(make_app):
    html = make_app(DEFAULT_LOCALE="en").test_client().get("/").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in html and "Amount to pay" in html


@pytest.mark.parametrize(("locale", "shown"), [
    ("tr", "07.12.2026\u00a014:05"),  # dd.MM.yyyy, the leading zero kept
    ("en", "7 Dec 2026,\u00a014:05"),  # the month by name: never 12/7/26, read as 12 July abroad
])
def test_dates_read_one_way_and_times_are_never_split(make_app, sandbox, locale, shown):
    from datetime import UTC, datetime

    app = make_app(DEFAULT_LOCALE=locale, TIMEZONE="Europe/Istanbul", COINS="TRX:TRX", RECEIPTS=True)
    with app.test_request_context("/"):
        assert fmt.local_time(datetime(2026, 12, 7, 11, 5, tzinfo=UTC)) == shown
    web = app.test_client()
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    sandbox.pay(tx_id, share="full")
    customer.status(tx_id)
    receipt = web.get(f"/receipt/{tx_id}").text
    date = re.search(r'data-testid="receipt-date">([^<]*)<', receipt).group(1)
    pattern = {"tr": r"\d\d\.\d\d\.\d{4}\u00a0\d\d:\d\d",
               "en": r"\d{1,2} [A-Z][a-z]{2} \d{4},\u00a0\d\d:\d\d"}
    assert re.fullmatch(pattern[locale], date), date


# -- the customer's languages ---------------------------------------------------------------------

FIVE = "tr,en,de,ru,ar"


def choose_language(web, language: str, html: str, next_path: str = "/"):
    return web.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": language,
                                       "next": next_path})


def test_the_picker_names_each_offered_language_in_its_own_script(make_app):
    html = make_app(LANGUAGES=FIVE).test_client().get("/").get_data(as_text=True)
    for code, name in [("tr", "Türkçe"), ("en", "English"), ("de", "Deutsch"), ("ru", "Русский"),
                       ("ar", "العربية")]:
        assert re.search(rf'lang="{code}"[^>]*data-testid="language-{code}">{name}<', html), code
    assert 'aria-current="true" data-testid="language-tr"' in html  # the one shown


def test_only_the_shops_languages_are_offered_and_taken(make_app):
    web = make_app(LANGUAGES="de,en").test_client()
    html = web.get("/").get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in html and "Zu zahlender Betrag" in html
    assert 'data-testid="language-tr"' not in html and 'data-testid="language-ru"' not in html
    choose_language(web, "ru", html)  # not offered: nothing changes
    assert '<html lang="de" dir="ltr">' in web.get("/").get_data(as_text=True)


def test_one_language_shows_no_picker(make_app):
    html = make_app(LANGUAGES="de").test_client().get("/").get_data(as_text=True)
    assert 'class="languages"' not in html and "Zu zahlender Betrag" in html


@pytest.mark.parametrize(("language", "heading", "direction"), [
    ("de", "Zu zahlender Betrag", "ltr"), ("ru", "Сумма к оплате", "ltr"),
    ("ar", "المبلغ المطلوب دفعه", "rtl")])
def test_a_chosen_language_reads_in_its_own_words_and_direction(make_app, language, heading, direction):
    web = make_app(LANGUAGES=FIVE).test_client()
    response = choose_language(web, language, web.get("/").get_data(as_text=True))
    assert response.status_code == 303 and response.headers["Location"] == "/"
    html = web.get("/").get_data(as_text=True)
    assert f'<html lang="{language}" dir="{direction}">' in html and heading in html


def test_the_language_button_returns_to_its_screen_and_never_elsewhere(make_app, sandbox):
    web = make_app(LANGUAGES=FIVE).test_client()
    Customer(web, sandbox).enter("300")
    coin = web.get("/coin").get_data(as_text=True)
    assert choose_language(web, "de", coin, "/coin").headers["Location"] == "/coin"
    assert "Wählen Sie, womit Sie zahlen" in web.get("/coin").get_data(as_text=True)
    for elsewhere in ("https://evil.example/", "//evil.example/", "/operator/today", "/nowhere", ""):
        assert choose_language(web, "en", coin, elsewhere).headers["Location"] == "/", elsewhere


@pytest.mark.parametrize(("language", "message"), [
    ("ru", "Введите сумму не более чем с 2 знаками после запятой."),
    ("ar", "أدخل المبلغ بمنزلتين عشريتين على الأكثر."),
    ("de", "Bitte geben Sie den Betrag mit höchstens 2 Nachkommastellen ein."),
])
def test_a_plural_message_takes_the_languages_form(make_app, sandbox, language, message):
    web = make_app(LANGUAGES=FIVE).test_client()
    choose_language(web, language, web.get("/").get_data(as_text=True))
    html = Customer(web, sandbox).enter("1.234").get_data(as_text=True)
    assert message in html


def test_the_russian_and_arabic_forms_for_three_decimals(make_app, sandbox):
    web = make_app(LANGUAGES=FIVE, CURRENCY="KWD").test_client()
    choose_language(web, "ru", web.get("/").get_data(as_text=True))
    html = Customer(web, sandbox).enter("1.2345").get_data(as_text=True)
    assert "Введите сумму не более чем с 3 знаками после запятой." in html
    choose_language(web, "ar", html)
    html = Customer(web, sandbox).enter("1.2345").get_data(as_text=True)
    assert "أدخل المبلغ بـ 3 منازل عشرية على الأكثر." in html


def test_staff_read_turkish_or_english_whatever_the_customer_chose(make_app):
    web = make_app(LANGUAGES="de,ar,en", OPERATOR_PIN="246810").test_client()
    choose_language(web, "ar", web.get("/").get_data(as_text=True))
    pin = web.get("/operator").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in pin  # the shop's German is no staff language: English
    web = make_app(LANGUAGES="ar,tr", OPERATOR_PIN="246810").test_client()
    assert '<html lang="tr" dir="ltr">' in web.get("/operator").get_data(as_text=True)


@pytest.mark.parametrize(("languages", "default", "error"), [
    ("tr,xx", None, "KIOSK_LANGUAGES must list languages from tr, en, de, ru, ar, comma separated, "
                    "the shop's own first; got 'xx'"),
    (" ", None, "KIOSK_LANGUAGES must name at least one language, e.g. tr,en"),
    ("tr,en", "de", "KIOSK_DEFAULT_LOCALE must be one of KIOSK_LANGUAGES (tr, en), got 'de'"),
])
def test_languages_the_kiosk_does_not_speak_are_refused(make_app, languages, default, error):
    from kiosk.config import ConfigError

    with pytest.raises(ConfigError) as refused:
        make_app(LANGUAGES=languages, **({"DEFAULT_LOCALE": default} if default else {}))
    assert str(refused.value.code) == f"kiosk: configuration error: {error}"


def test_the_default_locale_picks_the_shops_own_among_its_languages(make_app):
    settings = make_app(LANGUAGES="tr,en,ar", DEFAULT_LOCALE="ar").extensions["kiosk"].settings
    assert (settings.languages, settings.default_locale) == (("tr", "en", "ar"), "ar")


def test_no_direction_mark_reaches_upstream_or_the_logs(make_app, sandbox, caplog):
    """An Arabic customer's amount is shown with Babel's right-to-left mark; what is sent upstream
    and written to the logs is the plain Decimal."""
    caplog.set_level("INFO")
    web = make_app(LANGUAGES="tr,ar", CURRENCY="EUR").test_client()
    choose_language(web, "ar", web.get("/").get_data(as_text=True))
    tx_id = Customer(web, sandbox).start("1234.50")
    assert "\u200f" in web.get(f"/pay/{tx_id}").get_data(as_text=True)  # on screen, it is there
    [tx] = sandbox.transactions()
    assert (tx["currency"], tx["currencyAmount"]) == ("EUR", "1234.5")
    marks = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
    assert not any(marks.search(json.dumps(value, ensure_ascii=False)) for value in tx.values())
    assert not any(marks.search(record.getMessage()) for record in caplog.records)


def test_the_pay_screen_switches_language_and_stays_on_the_payment(make_app, sandbox):
    web = make_app(LANGUAGES=FIVE).test_client()
    tx_id = Customer(web, sandbox).start("300")
    pay = web.get(f"/pay/{tx_id}").get_data(as_text=True)
    assert 'data-testid="language-ru"' in pay
    assert choose_language(web, "ru", pay, f"/pay/{tx_id}").headers["Location"] == f"/pay/{tx_id}"
    html = web.get(f"/pay/{tx_id}").get_data(as_text=True)
    assert "Отсканируйте код для оплаты" in html and sandbox.calls("create") == 1


# -- the staff's language switch: Turkish or English, and back to the page it was on ---------------

def test_the_consoles_language_button_keeps_the_cashier_on_the_till(make_app):
    web = make_app(OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN).test_client()
    unlock_staff(web, CASHIER_PIN, "/till")
    till = web.get("/till").get_data(as_text=True)
    assert 'data-testid="language"' in till and 'name="next" value="/till"' in till
    assert choose_language(web, "en", till, "/till").headers["Location"] == "/till"
    assert '<html lang="en" dir="ltr">' in web.get("/till").get_data(as_text=True)
    assert choose_language(web, "tr", till, "/till/checkout/chk_0011223344556677").headers["Location"] \
        == "/till/checkout/chk_0011223344556677"


def operator_language(web, language: str, html: str, next_path: str):
    return web.post("/operator/language", data={"csrf_token": field(html, "csrf_token"),
                                                "locale": language, "next": next_path})


@pytest.mark.parametrize("page", ["/operator/today", "/operator/history?page=2&status=paid",
                                  "/operator/settings", "/operator/displays", "/operator/keys",
                                  "/operator/reports", "/operator/tx/{tx_id}"])
def test_the_operators_language_switch_keeps_the_page(make_app, sandbox, page):
    web = make_app(OPERATOR_PIN=STAFF_PIN).test_client()
    if "{tx_id}" in page:
        page = page.format(tx_id=Customer(web, sandbox).start("300"))
    unlock_staff(web)
    html = web.get(page).get_data(as_text=True)
    path = page.split("?")[0]
    assert 'data-testid="language"' in html and ">English<" in html, path
    assert f'name="next" value="{page.replace("&", "&amp;")}"' in html, path
    response = operator_language(web, "en", html, page)
    assert response.status_code == 303 and response.headers["Location"] == page
    assert '<html lang="en" dir="ltr">' in web.get(page).get_data(as_text=True)
    html = web.get(page).get_data(as_text=True)
    assert ">Türkçe<" in html
    assert operator_language(web, "tr", html, page).headers["Location"] == page
    assert '<html lang="tr" dir="ltr">' in web.get(page).get_data(as_text=True)


def test_the_operators_language_switch_speaks_only_staff_languages_and_stays_in_the_area(make_app):
    web = make_app(OPERATOR_PIN=STAFF_PIN, LANGUAGES="tr,en,de,ar").test_client()
    unlock_staff(web)
    html = web.get("/operator/today").get_data(as_text=True)
    for customers_only in ("de", "ar", "xx", ""):  # offered to customers, never to staff
        assert operator_language(web, customers_only, html, "/operator/today").status_code == 303
        assert '<html lang="tr" dir="ltr">' in web.get("/operator/today").get_data(as_text=True)
    for elsewhere in ("https://evil.example/", "//evil.example/operator/today", "/", "/till",
                      "/operator/lock", "/operator/export.csv", "/operator/nowhere", ""):
        back = operator_language(web, "en", html, elsewhere).headers["Location"]
        assert back == "/operator/today", elsewhere


def test_the_operators_language_switch_is_the_operators_only(make_app):
    web = make_app(OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN).test_client()
    html = web.get("/").get_data(as_text=True)
    refused = operator_language(web, "en", html, "/operator/today")  # locked: to the PIN screen
    assert refused.headers["Location"] == "/operator"
    assert '<html lang="tr" dir="ltr">' in web.get("/").get_data(as_text=True)
    unlock_staff(web, CASHIER_PIN, "/till")  # the cashier's PIN opens the console, not this
    assert operator_language(web, "en", html, "/operator/today").headers["Location"] == "/operator"
    assert '<html lang="tr" dir="ltr">' in web.get("/till").get_data(as_text=True)


def test_reports_speak_the_staff_language_whatever_the_shops_customers_read(make_app):
    web = make_app(OPERATOR_PIN=STAFF_PIN, LANGUAGES="de,en").test_client()
    unlock_staff(web)
    for page in ("/operator/today", "/operator/reports"):
        assert '<html lang="en" dir="ltr">' in web.get(page).get_data(as_text=True), page


def test_each_customer_languages_direction_is_the_one_cldr_gives():
    from kiosk import i18n

    assert set(i18n.DIRECTIONS) == set(i18n.CUSTOMER_LANGUAGES)
    assert {code: i18n.direction(code) for code in i18n.CUSTOMER_LANGUAGES} == {
        code: i18n.cldr_direction(code) for code in i18n.CUSTOMER_LANGUAGES}
    assert i18n.direction("ar") == "rtl" and i18n.direction("tr") == "ltr"


@pytest.mark.parametrize(("path", "label"), [("/operator", "Operator PIN"), ("/till", "Cashier PIN")])
def test_a_pin_screen_switches_between_the_staff_languages_and_stays_locked(make_app, path, label):
    app = make_app(OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN)
    staff = app.test_client()
    html = staff.get(path).get_data(as_text=True)
    assert "Yalnızca personel" in html and 'data-testid="language"' in html and ">English<" in html
    switched = staff.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en",
                                             "next": path})
    assert (switched.status_code, switched.headers["Location"]) == (303, path)
    html = staff.get(path).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in html and "Staff only" in html and label in html
    assert 'data-testid="pin"' in html and ">Türkçe<" in html
