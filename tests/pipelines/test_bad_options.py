"""A bad option fails at once at every entry point: one line naming it, exit 2, no traceback.

Each entry point runs in a subprocess with a timeout well under TensorFlow's import time (20 s or
more here), and reports whether TensorFlow was imported: the options must be checked before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import configs

ENTRY_POINTS = ("pipelines.local_runner", "pipelines.beam_runner", "pipelines.bench",
                "pipelines.faults", "kubeflow.runner", "kubeflow.image", "kubeflow.local")
PROGS = {"pipelines.local_runner": "pipelines.local_runner",
         "pipelines.beam_runner": "pipelines.beam_runner", "pipelines.bench": "bench",
         "pipelines.faults": "faults", "kubeflow.runner": "kfp-compile",
         "kubeflow.image": "kfp-image", "kubeflow.local": "kfp-local"}
# Runs the module as `python -m` does, then says whether TensorFlow got imported.
PROBE = ("import atexit, runpy, sys; atexit.register(lambda: print('TENSORFLOW', "
         "'tensorflow' in sys.modules, file=sys.stderr)); "
         "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")
BAD = [
    ({"PRUNE_FINAL_SPARSITY": "1.5"}, "PRUNE_FINAL_SPARSITY=1.5 (--prune-final-sparsity): "
     "must be in [0, 1)"),
    ({"PRUNE_FINAL_SPARSITY": "abc"}, "PRUNE_FINAL_SPARSITY=abc (--prune-final-sparsity): "
     "must be a number"),
    ({"BATCH_SIZE": "0"}, "BATCH_SIZE=0 (--batch-size): must be >= 1"),
    ({"EXAMPLE_LIMIT": "-5"}, "EXAMPLE_LIMIT=-5 (--example-limit): must be an integer >= 1"),
    ({"KERAS_API": "resnet"}, "KERAS_API=resnet (--keras-api): must be one of "
     "functional, sequential"),
    ({"PRUNE_M_BY_N": "5:4"}, "PRUNE_M_BY_N=5:4 (--prune-m-by-n): needs 1 <= m < n"),
    ({"IMAGE_SHAPE": "32,32,3"}, "IMAGE_SHAPE=32,32,3 (--image-shape): applies with "
     "EXAMPLES_DIR only"),
    ({"ENABLE_CACHE": "maybe"}, "ENABLE_CACHE=maybe (--enable-cache): must be a boolean"),
]


def _run(args: list[str], environ: dict[str, str], timeout: float = 15):
    env = {**os.environ, **environ}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=configs.PROJECT_ROOT)


@pytest.mark.parametrize("module", ENTRY_POINTS)
@pytest.mark.parametrize(("environ", "message"), BAD[:2] + BAD[-2:])
def test_every_entry_point_names_a_bad_option_before_importing_tensorflow(
    module, environ, message
):
    done = _run([sys.executable, "-c", PROBE, module], environ)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert lines[0].startswith(f"{PROGS[module]}: error: {message}")
    assert lines[1:] == ["TENSORFLOW False"]


@pytest.mark.parametrize(("environ", "message"), BAD)
def test_each_measured_bad_option_gets_its_line(environ, message):
    done = _run([sys.executable, "-m", "pipelines.local_runner"], environ)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"pipelines.local_runner: error: {message}")


def test_a_bad_flag_is_named_like_its_variable():
    done = _run([sys.executable, "-m", "pipelines.local_runner", "--batch-size", "x"], {})
    assert done.returncode == 2
    assert done.stderr == "pipelines.local_runner: error: BATCH_SIZE=x (--batch-size): must be " \
        "an integer\n"


@pytest.mark.parametrize(("target", "prog"), [
    ("run", "pipelines.local_runner"), ("run-beam", "pipelines.beam_runner"), ("bench", "bench"),
    ("faults", "faults"), ("kfp-compile", "kfp-compile"), ("kfp-image", "kfp-image"),
    ("kfp-local", "kfp-local")])
def test_make_targets_stop_on_a_bad_option(target, prog):
    done = _run(["make", "-s", target, "PRUNE_FINAL_SPARSITY=1.5"], {})
    assert done.returncode == 2
    assert (f"{prog}: error: PRUNE_FINAL_SPARSITY=1.5 (--prune-final-sparsity): must be in "
            "[0, 1)") in done.stderr
    assert "Traceback" not in done.stderr


def test_a_layer_the_model_lacks_is_named_before_tensorflow(tmp_path):
    done = _run([sys.executable, "-c", PROBE, "pipelines.local_runner"],
                {"PRUNE_LAYERS": "conv2,nope", "PIPELINE_ROOT": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "pipelines.local_runner: error: PRUNE_LAYERS=conv2,nope (--prune-layers): must name "
        "prunable layers of model 'cnn_functional': conv1, conv2, conv3, dense1, logits",
        "TENSORFLOW False"]
    assert not list(Path(tmp_path).iterdir())  # nothing ran, nothing was written


def test_the_tfx_cli_stops_with_the_same_line(tmp_path):
    tfx = str(Path(sys.executable).parent / "tfx")
    done = _run([tfx, "pipeline", "create", "--engine", "local", "--pipeline_path",
                 str(configs.PROJECT_ROOT / "pipelines" / "local_runner.py")],
                {"PRUNE_FINAL_SPARSITY": "1.5", "LOCAL_HOME": str(tmp_path)}, timeout=180)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "pipelines.local_runner: error: PRUNE_FINAL_SPARSITY=1.5 (--prune-final-sparsity): "
        "must be in [0, 1)")


def test_a_failed_run_ends_with_the_component_the_cause_and_the_fix(tmp_path, mnist_manual_dir):
    # Files of the right names (what the check before the run looks at) and wrong contents
    # (what only the ExampleGen's preparation finds).
    manual = tmp_path / "manual"
    manual.mkdir()
    for source in Path(mnist_manual_dir).iterdir():
        (manual / source.name).write_bytes(b"not the original file")
    done = _run([sys.executable, "-m", "pipelines.local_runner"],
                {"PIPELINE_ROOT": str(tmp_path / "root"), "TFDS_DATA_DIR": str(tmp_path / "tfds"),
                 "TFDS_MANUAL_DIR": str(manual)}, timeout=180)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("pipelines.local_runner: error: TfdsExampleGen failed: "
                           "SourceChecksumError: ")
    assert f"in {manual} is not the original file of TFDS mnist 3.0.1" in last
    store = str(tmp_path / "root" / "metadata.sqlite")
    assert last.endswith(f"(TFX's log above has the details; ML Metadata: SQLite {store})")
    from pipelines import outputs

    assert [(r.node_id, r.state) for r in outputs.newest_outputs(store, "mnist_pruning")] == [
        ("TfdsExampleGen", "FAILED")]
