"""Schemathesis against the committed OpenAPI document (docs/openapi.json), in process, on SQLite
and PostgreSQL: for every operation, generated cases (valid and schema-breaking) sent with the
right client and practitioner, with no credentials, and through another organisation's client.
No answer is a 5xx or breaks the document (status, content type, body schema); schema-breaking
input is refused; nothing works without authentication; and the record one organisation's
practitioner found is never returned through another organisation's client.

``SIGNPOST_API_FUZZ_CASES`` sets the cases per operation (25 in the test command;
docs/reliability.md records the 1,000-case run)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from app.crypto.keyring import Keyring
from app.records.service import create_child
from app.settings import DatabaseUrl
from tests.conftest import dev_settings_for
from tests.factories import child_details
from tests.identity_flow import FakeClock
from tests.integration.test_api import SEARCH, call, client_for, signed_in
from tests.pagecheck import CheckedClient

CASES = int(os.environ.get("SIGNPOST_API_FUZZ_CASES", "25"))
ORIGIN = "http://testserver.local"
DOCUMENT = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8")
)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = sorted(
    (path, method.upper())
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if method != "parameters"
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class World:
    web: CheckedClient
    secret: str  # the client of the practitioner's own organisation
    practitioner_id: int
    record_id: int  # a record the practitioner found, so may open
    other_secret: str  # another organisation's client
    other_practitioner_id: int


@pytest.fixture
async def world(
    app_factory: Any, data_dir: Path, db_url: DatabaseUrl, keyring: Keyring
) -> AsyncIterator[World]:
    clock = FakeClock()
    settings_ = dev_settings_for(
        data_dir, db_url, SIGNPOST_QUOTA_SEARCHES_PER_HOUR="100000", SIGNPOST_QUOTA_VIEWS_PER_DAY="1000000"
    )
    async with CheckedClient(app=app_factory(settings=settings_, clock=clock), base_url=ORIGIN) as web:
        ada = await signed_in(web, keyring, clock, "ada@riverside.example.org")
        child = await create_child(keyring, child_details(ada.authority_id))
        _, secret = await client_for(ada, clock)
        assert (await call(web, "/search", secret, ada, SEARCH)).json()["results"][0]["record_id"] == child.id
        bo = await signed_in(web, keyring, clock, "bo@hillside.example.org", organisation="Hillside Surgery")
        _, other_secret = await client_for(bo, clock, "Hillside EMIS")
        yield World(web, secret, ada.id, child.id, other_secret, bo.id)


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
@settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@given(data=st.data())
async def test_every_operation_holds_against_generated_cases(
    world: World, path: str, method: str, data: st.DataObject
) -> None:
    mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]), label="mode")
    case = data.draw(SCHEMA[path][method].as_strategy(generation_mode=mode), label="case")
    if "record_id" in (case.path_parameters or {}) and data.draw(st.booleans(), label="a real record"):
        case.path_parameters = {**case.path_parameters, "record_id": world.record_id}
    who = data.draw(st.sampled_from(["own", "own", "nobody", "other organisation"]), label="caller")
    headers: dict[str, str] = {}
    if who == "own":
        headers["Authorization"] = f"Bearer {world.secret}"
        if not data.draw(st.booleans(), label="keep the generated practitioner header"):
            headers["Signpost-On-Behalf-Of"] = str(world.practitioner_id)
    elif who == "other organisation":
        headers = {
            "Authorization": f"Bearer {world.other_secret}",
            "Signpost-On-Behalf-Of": str(world.other_practitioner_id),
        }
    kwargs = case.as_transport_kwargs(base_url=ORIGIN, headers=headers)
    if who == "nobody":
        kwargs["headers"] = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
    response = await world.web.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        content=kwargs.get("data"),
    )
    assert response.status_code < 500, (case.body, response.text[:300])
    assert "Traceback" not in response.text
    if who == "nobody":
        assert response.status_code in (401, 404), response.text  # 404: the path matched no operation
    if who == "other organisation" and (case.path_parameters or {}).get("record_id") == world.record_id:
        assert response.status_code not in (200, 201), response.text
    # Schema-breaking input must be refused, unless the only part broken was a header this test
    # replaced with a valid one.
    components = case.meta.components if case.meta else {}
    headers_broken = any(
        str(location).lower().endswith("header") and info.mode == GenerationMode.NEGATIVE
        for location, info in components.items()
    )
    checks = [*CHECKS, negative_data_rejection] if who == "own" and not headers_broken else CHECKS
    case.validate_response(response, checks=checks)
