"""kubeflow/deploy.py with the real kfp.Client against a recording HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kubeflow import deploy

PIPELINE_ID, FIRST_VERSION_ID, VERSION_ID, EXPERIMENT_ID, RUN_ID = "p-1", "v-1", "v-2", "e-1", "r-1"


class FakeKfp:
    """Answers the KFP v2beta1 REST calls kfp.Client makes; records every request."""

    def __init__(self, existing_pipeline: bool = False):
        self.requests: list[dict] = []
        self.existing_pipeline = existing_pipeline
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urllib.parse.urlparse(self.path)
                fake.requests.append({"method": self.command, "path": url.path,
                                      "query": urllib.parse.parse_qs(url.query), "body": body})
                payload = fake.answer(self.command, url.path)
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, method: str, path: str) -> dict:
        if path.endswith("/healthz"):
            return {"multi_user": False}
        if method == "GET" and path == "/apis/v2beta1/pipelines":
            return ({"pipelines": [{"pipeline_id": PIPELINE_ID, "display_name": "x"}],
                     "total_size": 1} if self.existing_pipeline else {})
        if path == "/apis/v2beta1/pipelines/upload":
            return {"pipeline_id": PIPELINE_ID, "display_name": "mnist-pruning"}
        if method == "GET" and path == f"/apis/v2beta1/pipelines/{PIPELINE_ID}/versions":
            return {"pipeline_versions": [{"pipeline_id": PIPELINE_ID,
                                           "pipeline_version_id": FIRST_VERSION_ID}]}
        if path == "/apis/v2beta1/pipelines/upload_version":
            return {"pipeline_id": PIPELINE_ID, "pipeline_version_id": VERSION_ID}
        if method == "GET" and path == "/apis/v2beta1/experiments":
            return {}
        if method == "POST" and path == "/apis/v2beta1/experiments":
            return {"experiment_id": EXPERIMENT_ID, "display_name": "mnist-pruning"}
        if method == "POST" and path == "/apis/v2beta1/runs":
            return {"run_id": RUN_ID, "display_name": "run"}
        return {}

    def calls(self, method: str, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "mnist-pruning.json"
    path.write_text(json.dumps({"pipelineSpec": {"pipelineInfo": {"name": "mnist-pruning"}},
                                "runtimeConfig": {}}))
    return path


def test_first_deploy_uploads_the_spec_and_starts_a_run(spec_file, capsys):
    fake = FakeKfp()
    code = deploy.main(["--endpoint", fake.endpoint, "--spec", str(spec_file),
                        "--experiment", "pruning-exp", "--run-name", "nightly"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == f"Run started: {fake.endpoint}/#/runs/details/{RUN_ID}"
    [upload] = fake.calls("POST", "/apis/v2beta1/pipelines/upload")
    assert upload["query"]["name"] == ["mnist-pruning"]
    assert spec_file.read_bytes() in upload["body"]  # the compiled file itself, multipart
    [experiment] = fake.calls("POST", "/apis/v2beta1/experiments")
    assert json.loads(experiment["body"])["display_name"] == "pruning-exp"
    [run] = fake.calls("POST", "/apis/v2beta1/runs")
    body = json.loads(run["body"])
    assert body["display_name"] == "nightly" and body["experiment_id"] == EXPERIMENT_ID
    assert body["pipeline_version_reference"] == {
        "pipeline_id": PIPELINE_ID, "pipeline_version_id": FIRST_VERSION_ID}
    fake.server.shutdown()


def test_a_known_pipeline_gets_a_new_version_which_the_run_uses(spec_file, capsys):
    fake = FakeKfp(existing_pipeline=True)
    assert deploy.main(["--endpoint", fake.endpoint, "--spec", str(spec_file),
                        "--namespace", "team-a"]) == 0
    assert not fake.calls("POST", "/apis/v2beta1/pipelines/upload")
    [version] = fake.calls("POST", "/apis/v2beta1/pipelines/upload_version")
    assert version["query"]["pipelineid"] == [PIPELINE_ID]
    assert version["query"]["name"][0].startswith("mnist-pruning-")
    [run] = fake.calls("POST", "/apis/v2beta1/runs")
    assert json.loads(run["body"])["pipeline_version_reference"] == {
        "pipeline_id": PIPELINE_ID, "pipeline_version_id": VERSION_ID}
    [experiment] = fake.calls("POST", "/apis/v2beta1/experiments")
    assert json.loads(experiment["body"])["namespace"] == "team-a"
    fake.server.shutdown()


def test_an_unreachable_endpoint_fails_in_seconds_with_a_message(spec_file, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = deploy.main(["--endpoint", f"http://127.0.0.1:{port}", "--spec", str(spec_file)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"Cannot reach Kubeflow Pipelines at http://127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_a_missing_spec_says_to_compile_first(tmp_path, capsys):
    code = deploy.main(["--endpoint", "http://127.0.0.1:9", "--spec", str(tmp_path / "no.json")])
    assert code == 2 and "run `make kfp-compile` first" in capsys.readouterr().err
