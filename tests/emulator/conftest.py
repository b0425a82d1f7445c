"""Fixtures: a demo emulator with a frozen virtual clock and an httpx client bound to it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from batchledger.emulator import DEMO_NOW, Emulator, Scenario

API_KEY = "test-key"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    # time_scale=0: virtual time moves only through advance(), so tests are deterministic.
    with Emulator(api_key=API_KEY, time_scale=0) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    assert emu.base_url is not None
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=emu.base_url, headers=headers, timeout=10) as http:
        yield http


@pytest.fixture
def empty_emu() -> Iterator[Emulator]:
    with Emulator(scenario=Scenario(now=DEMO_NOW, jobs=[]), time_scale=0) as emulator:
        yield emulator


@pytest.fixture
def empty_client(empty_emu: Emulator) -> Iterator[httpx.Client]:
    assert empty_emu.base_url is not None
    headers = {"Authorization": "Bearer anything"}
    with httpx.Client(base_url=empty_emu.base_url, headers=headers, timeout=10) as http:
        yield http
