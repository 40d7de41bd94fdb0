"""The till API against its contract: the OpenAPI document is valid, and a few hundred requests
generated from it by schemathesis get no 5xx and answers that match the document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import checks

from ..api_support import DisplayBrowser, Heartbeats, Till, make_key
from ..conftest import free_port
from ..support import Gunicorn

DOCUMENT = Path(__file__).parent.parent.parent / "kiosk/api/openapi.json"
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


def test_the_document_is_valid_openapi_3_1():
    document = json.loads(DOCUMENT.read_text())
    validate(document)
    assert document["openapi"] == "3.1.0"


@pytest.fixture(scope="module")
def live(sandbox_server, tmp_path_factory):
    state = tmp_path_factory.mktemp("contract")
    kiosk = Gunicorn(sandbox_server.url, state, free_port(), API_RATE_LIMIT="100000/60",
                     CREATE_LIMIT="100000/60", MIN_AMOUNT="1", MAX_AMOUNT="100000")
    kiosk.key = make_key(state, "contract")
    till = Till(kiosk.url, kiosk.key)
    browsers = [DisplayBrowser(kiosk.url) for _ in range(3)]
    kiosk.displays = [till.pair(browser, f"Contract {n}") for n, browser in enumerate(browsers)]
    beats = Heartbeats(browsers)  # the run outlasts a display's 30 s online unheard
    yield kiosk
    beats.stop()
    kiosk.stop()


def test_the_live_api_matches_its_document(live):
    api = schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 7
    for operation in operations:

        @given(operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case):
            # Now and then a real display, so the happy paths (and display_busy) are reached too.
            pick = len(str(case.body))
            if isinstance(case.body, dict) and "display_id" in case.body and pick % 2:
                case.body["display_id"] = live.displays[pick % 3]
                # The shop's currency there too, and every other time an amount it takes: generated
                # ones are nearly always another currency or 0, and a run where every such checkout
                # stopped at invalid_currency or invalid_amount reached no happy path at all.
                if "currency" in case.body:
                    case.body["currency"] = "TRY"
                if pick % 4 == 1:
                    case.body["amount"] = "12.50"
                    case.body.pop("lines", None)
            case.call_and_validate(headers={"Authorization": f"Bearer {live.key}"}, checks=CHECKS,
                                   timeout=30)

        conforms()
    assert len(live.workers("/api/v1/")) >= 300  # a few hundred generated requests were answered
    # The happy paths were reached, not only the refusals.
    assert Till(live.url, live.key).get("/checkouts").json()["data"]
