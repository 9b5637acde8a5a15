"""The user's model in the pipeline: a model module the test writes, a trained file brought in with
TFX's Importer, and the bad ones, named before anything runs.

Checked by content: the module's SHA-256 in ML Metadata is the file's own; the imported model is
the file's weights and its recorded accuracy is the file's on the eval data; the pushed int8 file
runs in LiteRT (read here, not through the pipeline's code) at the report's accuracy; the lineage
of the pushed model leads back to the module or the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components import model_artifact, properties
from pipelines import configs, metadata, nodes
from pipelines.lineage import cli
from pipelines.pipeline import create_pipeline
from tests.pipelines.support import EXAMPLE_LIMIT, make_config, node_states
from tests.support import idx_arrays, litert_correct, read_split

pytestmark = pytest.mark.e2e

# A graph the CNN's code was never written for: a residual addition around a depthwise block,
# a concatenation, global pooling, a layer of the module's own with its structured-pruning rule
# registered in the module; its input takes the images as 28x28x1.
MODULE = textwrap.dedent('''
    import tf_keras as keras

    from pruning import structured

    L = keras.layers


    @keras.utils.register_keras_serializable(package="user_net")
    class ChannelScale(L.Layer):
        """A learned scale per channel: a layer of the user's own."""

        def build(self, input_shape):
            self.scale = self.add_weight("scale", (input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.scale


    structured.register_rule(ChannelScale, structured.PerChannel())


    def build_model(input_shape, num_classes):
        inputs = keras.Input(input_shape)
        x = L.Conv2D(8, 3, strides=2, padding="same", name="stem")(inputs)
        x = ChannelScale(name="scale")(L.BatchNormalization(name="stem_bn")(x))
        x = L.ReLU(name="stem_relu")(x)
        y = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
        y = L.Conv2D(8, 1, name="pw")(L.ReLU()(L.BatchNormalization(name="dw_bn")(y)))
        x = L.Add(name="residual")([x, L.BatchNormalization(name="pw_bn")(y)])
        z = L.Conv2D(6, 3, strides=2, padding="same", name="side")(x)
        x = L.Conv2D(10, 3, strides=2, padding="same", name="main")(x)
        x = L.ReLU()(L.Concatenate(name="concat")([x, z]))
        x = L.GlobalAveragePooling2D(name="pool")(x)
        return keras.Model(inputs, L.Dense(num_classes, name="logits")(x), name="user_net")
''')
# Short runs of a tiny model: these check what travels and what is recorded, not accuracy.
SHORT = {"TRAIN_EPOCHS": "2", "PRUNE_EPOCHS": "2", "PRUNE_FILTER_EPOCHS": "1",
         "CLUSTER_COUNT": "0"}


def _cnn_free(overrides: dict) -> dict:
    """make_config's tiny settings less the project's CNN's own options."""
    cnn_only = ("MODEL_WIDTH", "DENSE_UNITS", "PRUNE_FILTER_SPARSITY")  # the CNN's or its layers
    return {**dict.fromkeys(cnn_only, ""), **SHORT, **overrides}


def _run(config: configs.PipelineConfig) -> None:
    LocalDagRunner().run(create_pipeline(config))


def _newest(config, output: nodes.Output):
    store = metadata.open_sqlite(config.metadata_path)
    return metadata.newest_output(store, config.pipeline_name, output)


def eval_split(config) -> tuple[np.ndarray, np.ndarray]:
    """The eval split as the Examples hold it, parsed here from the tf.Examples' own features
    (not with the pipeline's reader): images [N, 28, 28] in [0, 1], labels [N]."""
    examples = read_split(_newest(config, nodes.EXAMPLES), "eval")
    images = np.array([e.features.feature["image"].int64_list.value for e in examples])
    labels = np.array([e.features.feature["label"].int64_list.value[0] for e in examples])
    return (images / 255.0).astype(np.float32).reshape(-1, 28, 28), labels


def _lineage(config, capsys) -> dict:
    code = cli.main(["--sqlite", config.metadata_path, "--json", "lineage", "latest:pushed"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture(scope="module")
def module_run(tmp_path_factory, mnist_manual_dir, prepared_data_dir):
    root = tmp_path_factory.mktemp("module_run")
    module = root / "user_net.py"
    module.write_text(MODULE)
    config = make_config(root, mnist_manual_dir, prepared_data_dir,
                         **_cnn_free({"MODEL_MODULE": str(module)}))
    _run(config)
    return config, module


def test_a_module_file_is_built_trained_and_recorded_by_its_content(module_run, capsys):
    config, module = module_run
    assert set(node_states(config).values()) == {"COMPLETE"}
    baseline = metadata.scalar_properties(_newest(config, nodes.BASELINE_MODEL))
    assert baseline[properties.MODEL_MODULE] == str(module)
    assert baseline[properties.MODEL_MODULE_SHA256] == hashlib.sha256(
        module.read_bytes()).hexdigest()
    trained = model_artifact.load_model(_newest(config, nodes.BASELINE_MODEL).uri)
    assert trained.name == "user_net" and trained.input_shape == (None, 28, 28, 1)
    # Structured pruning narrowed every group the graph lets it (0.5 of each, the default for
    # any model): the residual's operands together, each branch of the concatenation.
    pruned = model_artifact.load_model(_newest(config, nodes.PRUNED_MODEL).uri)
    widths = {layer.name: layer.kernel.shape[-1] for layer in pruned.layers
              if hasattr(layer, "kernel")}
    assert widths == {"stem": 4, "pw": 4, "side": 3, "main": 5, "logits": 10}
    kept = metadata.scalar_properties(_newest(config, nodes.PRUNED_MODEL))
    assert dict(item.split(":") for item in kept[properties.KEPT_CHANNELS].split(",")) == {
        "stem": "4", "pw": "4", "side": "3", "main": "5"}
    graph = _lineage(config, capsys)
    [trainer_model] = [a for a in graph["artifacts"].values()
                       if a["node"] == nodes.TRAINER and a["type"] == "Model"]
    assert trainer_model["properties"][properties.MODEL_MODULE_SHA256] == baseline[
        properties.MODEL_MODULE_SHA256]


def test_the_user_models_files_run_at_the_reports_accuracy(module_run):
    config, _ = module_run
    compressed = _newest(config, nodes.COMPRESSED)
    report = metadata.scalar_properties(compressed)
    with open(os.path.join(model_artifact.serving_dir(compressed.uri), "pruned_int8.tflite"),
              "rb") as f:
        content = f.read()
    images, labels = eval_split(config)
    correct = litert_correct(content, images.reshape(-1, 28, 28, 1), labels)
    assert len(labels) == EXAMPLE_LIMIT
    assert correct / len(labels) == pytest.approx(report["int8_tflite_accuracy"], abs=1e-9)
    micro = [name for name in os.listdir(compressed.uri) if name.startswith("pruned_micro")]
    assert sorted(micro) == ["pruned_micro.cc", "pruned_micro.h", "pruned_micro.tflite"]
    assert report["micro_litert_agreement"] >= 0.99


def _trained_file(path: Path, manual_dir: Path) -> Path:
    """A model as a user trains and saves it: input 28x28x1, a softmax at the end."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv_a"),
        keras.layers.Conv2D(12, 3, strides=2, activation="relu", name="conv_b"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax", name="probabilities"),
    ], name="users_file")
    images, labels = idx_arrays(manual_dir, "train")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit((images[:2000] / 255.0).reshape(-1, 28, 28, 1), labels[:2000], epochs=1,
              verbose=0)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def imported_run(tmp_path_factory, mnist_manual_dir, prepared_data_dir):
    root = tmp_path_factory.mktemp("imported_run")
    path = _trained_file(root / "users_model.keras", mnist_manual_dir)
    config = make_config(root, mnist_manual_dir, prepared_data_dir,
                         **_cnn_free({"BASE_MODEL": str(path), "PRUNE_FILTER_SPARSITY": "0.5"}))
    _run(config)
    return config, path


def test_an_imported_model_is_the_baseline_untrained_and_traced_to_its_file(imported_run,
                                                                          capsys):
    import tf_keras as keras

    config, path = imported_run
    assert set(node_states(config).values()) == {"COMPLETE"}
    imported = _newest(config, nodes.IMPORTED_MODEL)
    assert imported.uri == str(path)
    baseline = _newest(config, nodes.BASELINE_MODEL)
    recorded = metadata.scalar_properties(baseline)
    assert recorded[properties.IMPORTED_FROM] == str(path) and recorded[properties.EPOCHS] == 0
    users = keras.models.load_model(path)
    ours = model_artifact.load_model(baseline.uri)
    for mine, theirs in zip(ours.get_weights(), users.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)  # not trained again
    images, labels = eval_split(config)
    assert recorded[properties.NUM_EVAL_EXAMPLES] == len(labels)
    predicted = users.predict(images.reshape(-1, 28, 28, 1), verbose=0)
    assert recorded[properties.TEST_ACCURACY] == pytest.approx(
        float(np.mean(predicted.argmax(1) == labels)), abs=1e-9)
    # The pruned model keeps the file's softmax: the exporter's files give probabilities once.
    report = metadata.scalar_properties(_newest(config, nodes.COMPRESSED))
    assert report["int8_tflite_accuracy"] > 0.5
    graph = _lineage(config, capsys)
    assert str(path) in {a["uri"] for a in graph["artifacts"].values()}
    assert nodes.BASE_MODEL_IMPORTER in {e["node"] for e in graph["executions"].values()}


BAD_MODULES = {
    "no_build.py": ("import tf_keras\n", "defines no build_model(input_shape, num_classes)"),
    "five.py": ("import tf_keras as keras\n\ndef build_model(input_shape, num_classes):\n"
                "    i = keras.Input(input_shape)\n"
                "    return keras.Model(i, keras.layers.Dense(5)("
                "keras.layers.Flatten()(i)))\n",
                "gives outputs of shape (5,); the data has 10 classes"),
}


@pytest.mark.parametrize("name", list(BAD_MODULES))
def test_a_bad_module_is_named_before_the_pipeline_starts(tmp_path, name):
    source, message = BAD_MODULES[name]
    module = tmp_path / name
    module.write_text(source)
    done = _entry(tmp_path, {"MODEL_MODULE": str(module)})
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"pipelines.local_runner: error: MODEL_MODULE={module} "
                           "(--model-module): ")
    assert message in line
    assert not (tmp_path / "root").exists()  # nothing ran, nothing was published


def test_a_layer_the_users_model_lacks_is_named_before_the_pipeline_starts(tmp_path):
    module = tmp_path / "user_net.py"
    module.write_text(MODULE)
    done = _entry(tmp_path, {"MODEL_MODULE": str(module), "PRUNE_FILTER_SPARSITY": "dense1:0.5"})
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert line == ("pipelines.local_runner: error: PRUNE_FILTER_SPARSITY=dense1:0.5 "
                    "(--prune-filter-sparsity): Layer 'dense1' is not in model 'user_net'; its "
                    "layers that can lose channels: stem, pw, main, side")
    assert not (tmp_path / "root").exists()


def test_a_file_that_is_not_a_keras_model_is_named_before_the_pipeline_starts(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_text("not a model")
    done = _entry(tmp_path, {"BASE_MODEL": str(path)})
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"pipelines.local_runner: error: BASE_MODEL={path} (--base-model): "
                           f"{path} is not a Keras model this project can load")
    assert not (tmp_path / "root").exists()


def _entry(tmp_path: Path, environ: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIPELINE_ROOT": str(tmp_path / "root"), **environ}
    return subprocess.run([sys.executable, "-m", "pipelines.local_runner"], env=env,
                          capture_output=True, text=True, timeout=120,
                          cwd=configs.PROJECT_ROOT)
