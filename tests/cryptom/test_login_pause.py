"""The pause after a refused upstream login, attacked: refusals for days on end, the clock jumping
back, records the kiosk never wrote, and what the record tells whoever reads the store. A refusal
never holds back a login longer than the longest pause, and the record is no password oracle."""

from __future__ import annotations

import hashlib
import json

import pytest
import time_machine

from kiosk.cryptom import AuthError, CryptomClient, FileTokenStore
from kiosk.cryptom.models import Refusal
from kiosk.cryptom.tokens import LOGIN_PAUSE, Logins
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

TX = "6338cb9cd4cb3327e706ddb1"
START = 1_800_000_000


def test_refusals_for_days_on_end_keep_their_five_minute_pause(sandbox, tmp_path):
    """Wrong credentials over a long weekend: more than a thousand refusals in a row, each
    answered as a refusal, and the pause stays at five minutes (2 ** level once overflowed a
    float at the 1025th, and from then on there was no pause at all)."""
    store = FileTokenStore(tmp_path / "t.json")
    tablet = CryptomClient(sandbox.url, DEFAULT_EMAIL, "wrong", token_store=store)
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            with pytest.raises(AuthError, match="refused the login: "):
                tablet.transaction(TX)
            clock.shift(LOGIN_PAUSE[1])
        # What 85 hours of refusals every five minutes leave in the store.
        last = store.load_refusal()
        assert last is not None and last.level == 5
        store.save_refusal(Refusal(last.who, last.until, 1020))
        for _ in range(10):
            with pytest.raises(AuthError, match="refused the login: "):
                tablet.transaction(TX)
            clock.shift(LOGIN_PAUSE[1] - 0.001)
            with pytest.raises(AuthError, match="tries again in 1 s"):
                tablet.transaction(TX)
            clock.shift(0.001)
        assert sandbox.calls("auth") == 15


def refused_once(sandbox, tablet: CryptomClient) -> None:
    """Upstream refuses the right credentials once (an account locked for a moment)."""
    sandbox.faults(fail_next=1, only="auth", fail_status=403)
    with pytest.raises(AuthError, match="refused the login"):
        tablet.transaction(TX)
    sandbox.clear_faults()


@pytest.mark.parametrize("back", [3600.0, LOGIN_PAUSE[1] - LOGIN_PAUSE[0] + 0.001])
def test_a_clock_that_jumps_back_never_makes_the_pause_longer_than_the_longest(sandbox, tmp_path, back):
    tablet = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD,
                           token_store=FileTokenStore(tmp_path / "t.json"))
    with time_machine.travel(START, tick=False) as clock:
        refused_once(sandbox, tablet)  # the next login after 30 s
        clock.shift(-back)  # NTP corrects a clock that ran ahead
        tablet.history(limit=1)  # logged in at once: the 30 s pause is over where it counts
    assert sandbox.calls("auth") == 2


def test_a_pause_at_the_longest_is_kept(sandbox, tmp_path):
    tablet = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD,
                           token_store=FileTokenStore(tmp_path / "t.json"))
    with time_machine.travel(START, tick=False) as clock:
        refused_once(sandbox, tablet)
        clock.shift(-(LOGIN_PAUSE[1] - LOGIN_PAUSE[0]))  # exactly five minutes to wait now
        with pytest.raises(AuthError, match=f"tries again in {int(LOGIN_PAUSE[1])} s"):
            tablet.transaction(TX)
    assert sandbox.calls("auth") == 1


@pytest.mark.parametrize("record", [
    '{"who": "%s", "until": Infinity, "level": 1}',
    '{"who": "%s", "until": 1e308, "level": 1}',
    '{"who": "%s", "until": NaN, "level": 1}',
    '{"who": "%s", "until": %d, "level": 1000000000}',
    '{"who": "%s", "until": %d, "level": -7}',
    '{"who": "%s", "until": "soon", "level": 1}',
    '["%s"]',
    "garbage",
])
def test_a_record_the_kiosk_never_wrote_holds_back_no_login_for_long(sandbox, tmp_path, record):
    store = FileTokenStore(tmp_path / "t.json")
    tablet = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD, token_store=store)
    who = Logins(store, DEFAULT_EMAIL, DEFAULT_PASSWORD).who
    text = record.replace("%s", who).replace("%d", str(START + 60))
    (tmp_path / "t.json.refused").write_text(text)
    with time_machine.travel(START, tick=False) as clock:
        try:
            tablet.history(limit=1)
        except AuthError as exc:  # at most the longest pause, never longer
            assert int(str(exc).rsplit(" ", 2)[1]) <= LOGIN_PAUSE[1], exc
            clock.shift(LOGIN_PAUSE[1])
            tablet.history(limit=1)
    assert sandbox.calls("auth") == 1


def test_the_refusal_record_is_no_password_oracle(make_app, sandbox, tmp_path):
    """Whoever reads the token store (a fleet's Redis, a backup of the state folder) cannot test
    password guesses against the record: its digest needs the kiosk's secret key too."""
    digests = []
    for secret in ("first-secret-key-0123456789", "other-secret-key-0123456789"):
        app = make_app(API_PASSWORD="wrong", SECRET_KEY=secret, STATE_DIR=str(tmp_path / secret))
        with pytest.raises(AuthError):
            app.extensions["kiosk"].client.transaction(TX)
        record = json.loads((tmp_path / secret / "cryptom-token.json.refused").read_text())
        digests.append(record["who"])
    guess = f"{DEFAULT_EMAIL}\0wrong".encode()
    for unkeyed in (hashlib.sha256(guess), hashlib.sha1(guess), hashlib.md5(guess),  # noqa: S324
                    hashlib.sha256(b"wrong"), hashlib.sha512(guess)):
        assert unkeyed.hexdigest()[:len(digests[0])] not in digests
    assert digests[0] != digests[1]  # the same credentials, another kiosk's secret
    assert "wrong" not in "".join(digests)


@pytest.mark.parametrize("level", [-7, 0])
def test_a_refusal_after_a_record_of_no_level_pauses_the_first_pause(sandbox, tmp_path, level):
    """A record the kiosk never wrote, with a level below the first: the next refusal starts the
    back-off at its first pause, 30 s."""
    store = FileTokenStore(tmp_path / "t.json")
    tablet = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD, token_store=store)
    who = Logins(store, DEFAULT_EMAIL, DEFAULT_PASSWORD).who
    store.save_refusal(Refusal(who, START - 1, level))
    with time_machine.travel(START, tick=False) as clock:
        refused_once(sandbox, tablet)
        assert store.load_refusal() == Refusal(who, START + LOGIN_PAUSE[0], 1)
        clock.shift(LOGIN_PAUSE[0] - 0.001)
        with pytest.raises(AuthError, match="tries again in 1 s"):
            tablet.transaction(TX)
        clock.shift(0.001)
        tablet.history(limit=1)


def test_new_credentials_are_tried_at_once(sandbox, tmp_path):
    """The shop fixes a wrong password: the kiosk started with the new one logs in at once, the
    pause of the old credentials holds back no one else's login; the old ones stay paused."""
    store = FileTokenStore(tmp_path / "t.json")
    wrong = CryptomClient(sandbox.url, DEFAULT_EMAIL, "wrong", token_store=store)
    with time_machine.travel(START, tick=False):
        with pytest.raises(AuthError, match="refused the login: "):
            wrong.transaction(TX)
        with pytest.raises(AuthError, match=f"tries again in {int(LOGIN_PAUSE[0])} s") as paused:
            wrong.transaction(TX)
        assert paused.value.status == 401  # a pause is caught as the refusal it stands for
        assert sandbox.calls("auth") == 1
        fixed = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD, token_store=FileTokenStore(
            tmp_path / "t.json"))
        fixed.history(limit=1)
    assert sandbox.calls("auth") == 2
