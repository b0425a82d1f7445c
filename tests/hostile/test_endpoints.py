"""The dedicated endpoint list (GET /v1/endpoints) is optional: the price seed names endpoints
too. Whatever the server makes of that one list (not a list, a refused key, an error after
every retry, far too many entries), the run loads everything else, says so in its summary,
and recognises dedicated jobs from prices/dedicated_endpoints.csv. A refused key on the batch
list still fails the run."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from rich.console import Console

from batchledger.cli.summary import print_summary
from batchledger.emulator import Emulator
from batchledger.ingest import run_ingest
from batchledger.settings import Settings
from batchledger.together import TogetherAuthError
from tests.hostile.server import Answer, Hostile, json_body, on_path
from tests.ingest.test_ingest import counts, expected_counts

# Lowered for the test, so that a list over it stays small (the default is 10,000).
FEW_ENDPOINTS = 3


def _status(status: int) -> Callable[[Answer], Answer]:
    def change(_: Answer) -> Answer:
        body = json.dumps({"error": {"message": f"status {status}"}}).encode()
        return Answer(status, {"Content-Type": "application/json"}, body, length=len(body))

    return change


def _many(body: Any) -> Any:
    """Past the cap: copies of the first dedicated entry under new ids."""
    entry = body["data"][0]
    copies = [
        {**entry, "id": f"endpoint-{index:08d}-0000-4000-8000-000000000000"}
        for index in range(FEW_ENDPOINTS + 1)
    ]
    return {"object": "list", "data": copies}


ANSWERS: dict[str, tuple[Callable[[Answer], Answer], str]] = {
    "not_a_list": (json_body(lambda _: {"data": "oops"}), "expected a list of endpoint"),
    "http_403": (_status(403), "HTTP 403"),
    "http_500": (_status(500), "HTTP 500"),
    "too_many": (json_body(_many), f"more than the {FEW_ENDPOINTS} read"),
    # One entry, but more bytes than the cap allows (2 KB an entry): refused unread.
    "too_large": (
        json_body(lambda body: {"data": [{**body["data"][0], "note": "x" * 10_000}]}),
        "larger than",
    ),
}
# The cases about the cap lower it; the others keep the default.
CAPPED = {"too_many", "too_large"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_a_bad_endpoint_list_falls_back_to_the_seed_with_a_warning(
    case: str, emulator: Emulator, hostile: Hostile, hostile_settings: Settings
) -> None:
    change, reason = ANSWERS[case]
    hostile.mangles.append(on_path("GET", "/v1/endpoints", change))
    settings = hostile_settings
    if case in CAPPED:
        settings = replace(hostile_settings, max_endpoints=FEW_ENDPOINTS)
    result = run_ingest(settings, build=False)
    # Everything else loaded; no endpoint row from an answer the run could not use.
    expected = {**expected_counts(emulator.scenario, emulator), "endpoints": 0}
    assert counts(settings.db_path) == expected
    (warning,) = [w for w in result.report.api_warnings if "dedicated endpoints" in w]
    assert reason in warning and "prices/dedicated_endpoints.csv" in warning
    shown = Console(record=True, width=400)
    print_summary(result, shown)
    assert "prices/dedicated_endpoints.csv only this run" in shown.export_text()


@pytest.mark.timeout(60)
def test_a_list_within_the_cap_is_read(
    emulator: Emulator, hostile: Hostile, hostile_settings: Settings
) -> None:
    # The cap's own boundary: as many entries as it allows are loaded, all of them.
    def at_cap(body: Any) -> Any:
        many = _many(body)
        return {**many, "data": many["data"][:FEW_ENDPOINTS]}

    hostile.mangles.append(on_path("GET", "/v1/endpoints", json_body(at_cap)))
    settings = replace(hostile_settings, max_endpoints=FEW_ENDPOINTS)
    result = run_ingest(settings, build=False)
    assert counts(settings.db_path)["endpoints"] == FEW_ENDPOINTS
    assert not [w for w in result.report.api_warnings if "dedicated endpoints" in w]


@pytest.mark.timeout(60)
def test_a_refused_key_on_the_batch_list_still_fails_the_run(
    hostile: Hostile, hostile_settings: Settings
) -> None:
    hostile.mangles.append(on_path("GET", "/v1/batches", _status(403)))
    with pytest.raises(TogetherAuthError, match="HTTP 403"):
        run_ingest(hostile_settings, build=False)
