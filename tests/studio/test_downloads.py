"""Downloads: a version as a zip of its served directory or checkpoint, a job's log; beyond
loopback only with a link signed by the admin key."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from persian_chat.studio import service
from persian_chat.studio.downloads import ROUTES, link_token, signed
from persian_chat.studio.settings import StudioSettings

KEY = "admin-key-0123456789abcdef"


def make_studio(tmp_path: Path, host: str) -> service.Studio:
    studio = service.Studio(StudioSettings(home=tmp_path / "home", host=host, admin_key=KEY))
    served = tmp_path / "job" / "served" / "support-v1"
    served.mkdir(parents=True)
    (served / "manifest.json").write_text("{}")
    (served / "model.onnx").write_bytes(b"\x08\x01" * 100)
    (tmp_path / "job" / "job.log").write_text("=== train\nstep 1\n", encoding="utf-8")
    dataset = studio.store.add_dataset(
        {"sha256": "a" * 64, "name": "faq.csv", "mapping": {}, "directory": "", "counts": {}}
    )
    job = studio.store.add_job(
        {
            "dataset_id": dataset,
            "template": "support",
            "recipe": {},
            "directory": str(tmp_path / "job"),
        }
    )
    studio.store.add_version(
        {
            "name": "support-v1",
            "job_id": job,
            "dataset_sha256": "a" * 64,
            "recipe": {},
            "evaluation": {},
            "parity": {},
            "checkpoint": str(tmp_path / "job" / "gone"),
            "served": str(served),
        }
    )
    return studio


@pytest.fixture(params=["127.0.0.1", "0.0.0.0"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    studio = make_studio(tmp_path, request.param)
    service._studio = studio
    try:
        yield TestClient(Starlette(routes=ROUTES))
    finally:
        service._studio = None
        studio.store.close()


def test_version_zip_and_log(client: TestClient) -> None:
    response = client.get(signed("/studio/download/version/1/served"))
    assert response.status_code == 200
    assert 'filename="support-v1-served.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["support-v1/manifest.json", "support-v1/model.onnx"]
    log = client.get(signed("/studio/download/job/1/log"))
    assert log.status_code == 200 and "step 1" in log.text
    assert client.get(signed("/studio/download/version/1/checkpoint")).status_code == 410
    assert client.get(signed("/studio/download/version/9/served")).status_code == 404
    assert client.get(signed("/studio/download/version/1/etc")).status_code == 404


def test_beyond_loopback_a_link_needs_the_admin_keys_token(client: TestClient) -> None:
    path = "/studio/download/version/1/served"
    remote = service.get_studio().settings.needs_key
    plain = client.get(path)
    assert plain.status_code == (401 if remote else 200)
    if remote:
        assert plain.json()["error"]["param"] == "token"
        forged = client.get(f"{path}?token={link_token('another-key-0123456789', path)}")
        assert forged.status_code == 401
        other = client.get(f"{path}?token={link_token(KEY, '/studio/download/job/1/log')}")
        assert other.status_code == 401
