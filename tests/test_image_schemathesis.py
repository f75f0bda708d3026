"""Schemathesis against the served OpenAPI specs of the job API and of the Images API: generated requests,
valid and invalid, authenticated, must never get a 5xx, an undocumented status code, a wrong content
type or a body that violates the spec. The apps run in process (ASGI) with real stores and, for the
Images API, the shipped model with small step and image bounds so generated requests stay fast."""
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                status_code_conformance)

from fancy_lib.image.app import AppSettings, create_app, create_user, load_state
from fancy_lib.image.billing import set_price
from fancy_lib.image.client import ProviderConfig

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def _jobs_app():
    tmp = Path(tempfile.mkdtemp(prefix="fancy-schemathesis-"))
    local = ProviderConfig(name="local", model="fancy-image", base_url="http://127.0.0.1:9/v1", api_key="k", reference_images="supported")
    state = load_state(AppSettings(store_url=f"sqlite:///{tmp}/store.db", images_dir=tmp / "jobs"), providers={"local": local})
    with state.store.transaction() as conn:
        create_user(conn, "tester", "tester-password", is_admin=True, grant_credits=10**6)
        set_price(conn, model="fancy-image", size="32x32", credits_per_image=1, actor="test", reason="schemathesis")
    return create_app(state=state)


JOBS_APP = _jobs_app()
jobs_schema = schemathesis.openapi.from_asgi("/openapi.json", JOBS_APP)


@pytest.fixture(scope="module")
def token():
    from fastapi.testclient import TestClient
    r = TestClient(JOBS_APP).post("/api/auth/login", json={"username": "tester", "password": "tester-password"})
    return r.json()["access_token"]


@jobs_schema.exclude(path="/api/auth/logout").parametrize()   # logging out would end the session the other cases use
@EXAMPLES
def test_job_api_conforms_to_its_spec(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def _images_app():
    from image_helpers import shipped_model_dir
    from fancy_lib.image.server import create_app as images_app
    from fancy_lib.image.settings import ServerLimits
    tmp = Path(tempfile.mkdtemp(prefix="fancy-schemathesis-images-"))
    return images_app(shipped_model_dir(), api_keys=["sk-schema"], usage_log_path=tmp / "usage.jsonl", torch_threads=1,
                      limits=ServerLimits(max_n=2, max_steps=3), request_timeout_s=60)


IMAGES_APP = _images_app()
images_schema = schemathesis.openapi.from_asgi("/openapi.json", IMAGES_APP)


@images_schema.parametrize()
@EXAMPLES
def test_images_api_conforms_to_its_spec(case):
    case.call_and_validate(headers={"Authorization": "Bearer sk-schema"}, checks=CHECKS)
