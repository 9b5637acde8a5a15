"""kubeflow/deploy.py with the real kfp.Client against a recording HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tfx.proto import pusher_pb2
from tfx.utils import proto_utils

from kubeflow import deploy, runner

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


STORAGE = {"--pipeline-root": "gs://b/root", "--tfds-data-dir": "gs://b/tfds",
           "--tfds-manual-dir": "gs://b/manual", "--serving-model-dir": "gs://b/serving"}
STORAGE_FLAGS = [item for pair in STORAGE.items() for item in pair]


def write_spec(path, defaults: dict[str, str] | None = None, root: str | None = None):
    """A spec as kubeflow/runner.py writes it: the storage run parameters, some with defaults."""
    parameters = {name: {"parameterType": "STRING"} for name in runner.RUN_PARAMETERS.values()}
    for name, value in (defaults or {}).items():
        parameters[name]["defaultValue"] = value
    path.write_text(json.dumps({
        "pipelineSpec": {"pipelineInfo": {"name": "mnist-pruning"},
                         "root": {"inputDefinitions": {"parameters": parameters}}},
        "runtimeConfig": {"gcsOutputDirectory": root} if root else {}}))
    return path


@pytest.fixture
def spec_file(tmp_path):
    return write_spec(tmp_path / "mnist-pruning.json")


def test_first_deploy_uploads_the_spec_and_starts_a_run(spec_file, capsys):
    fake = FakeKfp()
    code = deploy.main(["--endpoint", fake.endpoint, "--spec", str(spec_file),
                        "--experiment", "pruning-exp", "--run-name", "nightly", *STORAGE_FLAGS])
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
    runtime = body["runtime_config"]
    assert runtime["pipeline_root"] == "gs://b/root"
    assert runtime["parameters"]["tfds_data_dir"] == "gs://b/tfds"
    assert runtime["parameters"]["tfds_manual_dir"] == "gs://b/manual"
    destination = proto_utils.json_to_proto(runtime["parameters"]["push_destination"],
                                            pusher_pb2.PushDestination())
    assert destination.filesystem.base_directory == "gs://b/serving"
    fake.server.shutdown()


def test_the_spec_defaults_fill_what_is_not_given(tmp_path):
    spec = write_spec(tmp_path / "s.json", root="gs://d/root",
                      defaults={"tfds_data_dir": "gs://d/tfds", "tfds_manual_dir": "gs://d/m"})
    fake = FakeKfp()
    assert deploy.main(["--endpoint", fake.endpoint, "--spec", str(spec),
                        "--tfds-manual-dir", "gs://given/m", "--serving-model-dir",
                        "gs://given/s"]) == 0
    [run] = fake.calls("POST", "/apis/v2beta1/runs")
    runtime = json.loads(run["body"])["runtime_config"]
    assert runtime["pipeline_root"] == "gs://d/root"
    assert runtime["parameters"]["tfds_data_dir"] == "gs://d/tfds"
    assert runtime["parameters"]["tfds_manual_dir"] == "gs://given/m"  # given beats default
    fake.server.shutdown()


def test_storage_left_unset_is_named_before_anything_is_sent(spec_file, capsys):
    fake = FakeKfp()
    code = deploy.main(["--endpoint", fake.endpoint, "--spec", str(spec_file),
                        "--tfds-data-dir", "gs://b/tfds", "--serving-model-dir", "/local/s"])
    [line] = capsys.readouterr().err.splitlines()
    assert code == 2 and fake.requests == []
    assert line.startswith("kfp-deploy: error: set PIPELINE_ROOT (--pipeline-root), "
                           f"TFDS_MANUAL_DIR (--tfds-manual-dir): the spec {spec_file} has no "
                           "default for them; not gs:// URIs: SERVING_MODEL_DIR=/local/s")
    fake.server.shutdown()


def test_storage_comes_from_the_variables_make_passes(spec_file, monkeypatch):
    for flag, value in STORAGE.items():
        monkeypatch.setenv(flag[2:].upper().replace("-", "_"), value)
    fake = FakeKfp()
    assert deploy.main(["--endpoint", fake.endpoint, "--spec", str(spec_file)]) == 0
    [run] = fake.calls("POST", "/apis/v2beta1/runs")
    assert json.loads(run["body"])["runtime_config"]["pipeline_root"] == "gs://b/root"
    fake.server.shutdown()


def test_a_known_pipeline_gets_a_new_version_which_the_run_uses(spec_file, capsys):
    fake = FakeKfp(existing_pipeline=True)
    assert deploy.main(["--endpoint", fake.endpoint, "--spec", str(spec_file),
                        "--namespace", "team-a", *STORAGE_FLAGS]) == 0
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
    code = deploy.main(["--endpoint", f"http://127.0.0.1:{port}", "--spec", str(spec_file),
                        *STORAGE_FLAGS])
    err = capsys.readouterr().err
    assert code == 2
    assert f"Cannot reach Kubeflow Pipelines at http://127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_a_missing_spec_says_to_compile_first(tmp_path, capsys):
    code = deploy.main(["--endpoint", "http://127.0.0.1:9", "--spec", str(tmp_path / "no.json")])
    assert code == 2 and "run `make kfp-compile` first" in capsys.readouterr().err
