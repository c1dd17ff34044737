"""Property-based fuzzing of the whole HTTP API against its own OpenAPI schema (schemathesis): for
every operation, valid and invalid requests generated from the schema, sent to the real app (real
engine, a fresh SQLite database, an admin's real session token). Every answer must be a documented
status with a body that matches the schema, and never a 5xx.

Bounded: MAX_EXAMPLES per operation, derandomized (the same cases every run, so a failure
reproduces), about a minute or two on 2 cores. Rate limits are off here (they are tested in
test_hardening.py): the fuzzer sends far more than a person would."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 60
PASSWORD = "fuzz-admin-password-1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class AdminSession:
    """The admin's bearer token, restored before each call: the fuzzer may sign the admin out,
    change their password or role, or deactivate them (all legitimate admin requests)."""

    def __init__(self, app) -> None:
        self.review = app.state.review
        self.user = self.review.accounts.create_user("fuzzadmin", PASSWORD, "admin")
        self.token = self.review.accounts.sign_in("fuzzadmin", PASSWORD)[1]

    def headers(self) -> dict[str, str]:
        who = self.review.accounts.principal_for(self.token)
        if who is None or who.role != "admin":
            from chartcoder.accounts.principal import Principal

            repair = {"active": True, "role": "admin", "password": PASSWORD}
            self.review.accounts.update_user(self.user.id, repair, Principal("admin", "fuzz-repair"))
            self.token = self.review.accounts.sign_in("fuzzadmin", PASSWORD)[1]
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def fuzz_app(settings, service, tmp_path_factory):
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    root = tmp_path_factory.mktemp("fuzz")
    s = Settings(
        data_dir=settings.data_dir,
        model="knowledge",
        model_dir=root / "models",
        database_url=f"sqlite:///{root / 'review.db'}",
        registry_poll_seconds=0,
        rate_limit_per_minute=0,
        rate_limit_ehr_per_minute=0,
        rate_limit_burst=0,
        rate_limit_login_per_minute=0,
    )
    app = create_app(s, service_factory=lambda: service)
    yield app
    app.state.review.store.dispose()


@pytest.fixture(scope="module")
def admin(fuzz_app) -> AdminSession:
    return AdminSession(fuzz_app)


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app, admin):
    # /openapi.json needs authentication like every other route: fetched with the admin's token
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, headers=admin.headers())


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(fuzz_schema, admin, mode):
    """Each operation in turn (schemathesis's pytest plugin does not run under pytest 9, so the
    operations are walked here); every failure is collected, then all are reported together."""
    failures: list[str] = []
    operations = 0
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report what was found, fast
        )
        def run(case):
            case.call_and_validate(headers=admin.headers(), checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # negative mode, an operation with no input: nothing can be invalid
            continue
        except (Exception, BaseExceptionGroup) as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}:\n{exc}")
    assert operations >= 30, f"only {operations} operations in the schema"
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
