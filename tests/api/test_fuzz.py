"""Generated requests against every operation of /api/schema: never a 500.

Schemathesis draws valid and invalid inputs from the OpenAPI schema (wrong
types, nulls, huge strings, arrays where objects belong); each answer must be
below 500 and, for errors, in the API's error shape.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import given as hypothesis_given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.fake_pco import FakePlanningCenter

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# Server errors and answers that break the schema (status, media type, body).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SKIP = {
    # These answer for the caller's own account; fuzzing them would log the
    # fuzzing token out or change its password halfway through.
    ("POST", "/api/auth/logout/"),
    ("POST", "/api/auth/password/"),
    ("POST", "/api/auth/mfa/setup/"),
}


def operations():
    schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", application)
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SKIP:
            yield operation


def check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400 and response.status_code != 405:
        body = response.json()
        assert isinstance(body.get("code"), str), body
        assert isinstance(body.get("message"), str), body


@pytest.fixture
def planning_center(settings):
    """Where the Planning Center endpoints go: a stand-in (this has no internet)."""
    fake = FakePlanningCenter(limit=10_000).start()
    fake.add_list("Youth")
    settings.PLANNING_CENTER_API_BASE = fake.base
    yield fake
    fake.stop()


def test_no_operation_answers_a_server_error(alice, planning_center):
    headers = {"Authorization": f"Bearer {alice.access}"}
    tried = 0
    for operation in operations():

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis_given(case=operation.as_strategy())
        def run(case):
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            check(response)

        run()
        tried += 1
    assert tried >= 20
