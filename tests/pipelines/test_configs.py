"""Config precedence (flag > environment > default), derived defaults and validation."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines import configs, reference
from pruning import architecture
from pruning.params import (
    NARROW_CLUSTERS,
    NARROW_PRUNE_EPOCHS,
    PRUNE_TRAINING,
    ClusteringParams,
    CompressionParams,
    FilterParams,
    GateParams,
    ModelParams,
    PruningParams,
    TrainingParams,
)


def test_defaults():
    config = configs.load_config([], environ={})
    assert config.dataset == "mnist" and config.pipeline_name == "mnist_pruning"
    assert config.splits == {"train": "train", "eval": "test"}
    assert config.tfds_data_dir == str(configs.BUILD_DIR / "tensorflow_datasets")
    assert config.gate_params == GateParams(min_accuracy=0.98, max_accuracy_drop=0.005)
    assert config.pipeline_root == str(configs.BUILD_DIR / "pipelines" / "mnist_pruning")
    assert config.metadata_path.endswith("pipelines/mnist_pruning/metadata.sqlite")
    assert config.enable_cache is True
    assert config.beam_pipeline_args == [
        "--runner=FnApiRunner",
        "--direct_running_mode=in_memory",
    ]


def test_environment_overrides_default_and_flag_overrides_environment():
    environ = {"DATASET": "fashion_mnist", "EXAMPLE_LIMIT": "100", "ENABLE_CACHE": "false"}
    config = configs.load_config(["--example-limit", "7"], environ=environ)
    assert config.dataset == "fashion_mnist"
    assert config.example_limit == 7
    assert config.enable_cache is False


@pytest.mark.parametrize(
    ("dataset", "name", "gate"),
    [("mnist", "mnist_pruning", (0.98, 0.005)),
     ("fashion_mnist", "fashion_mnist_pruning", (0.88, 0.015)),
     ("fashion_mnist:3.0.1", "fashion_mnist_pruning", (0.88, 0.015))],
)
def test_names_and_gate_follow_the_dataset(dataset, name, gate):
    config = configs.load_config([], environ={"DATASET": dataset})
    assert config.pipeline_name == name
    assert config.serving_model_dir == str(configs.BUILD_DIR / "serving" / name)
    assert config.metadata_path == str(
        configs.BUILD_DIR / "pipelines" / name / "metadata.sqlite")
    assert (config.gate_params.min_accuracy, config.gate_params.max_accuracy_drop) == gate
    explicit = configs.load_config([], environ={
        "DATASET": dataset, "PIPELINE_NAME": "mine", "EVAL_MIN_ACCURACY": "0.5",
        "EVAL_MAX_ACCURACY_DROP": "0"})
    assert explicit.pipeline_name == "mine"
    assert explicit.gate_params == GateParams(min_accuracy=0.5, max_accuracy_drop=0.0)


def test_empty_environment_values_mean_default():
    config = configs.load_config([], environ={"DATASET": "", "EXAMPLE_LIMIT": ""})
    assert config.dataset == "mnist"
    assert config.example_limit is None


def test_pipeline_root_and_metadata_follow_each_other(tmp_path):
    config = configs.load_config(["--pipeline-root", str(tmp_path)], environ={})
    assert config.metadata_path == str(tmp_path / "metadata.sqlite")


def test_manual_dir_defaults_to_shared_data_of_the_dataset(monkeypatch, tmp_path):
    monkeypatch.setattr(configs, "SHARED_DATA_DIR", tmp_path)
    (tmp_path / "mnist").mkdir()
    assert configs.load_config([], environ={}).tfds_manual_dir == str(tmp_path / "mnist")
    fashion = configs.load_config([], environ={"DATASET": "fashion_mnist"})
    assert fashion.tfds_manual_dir is None
    explicit = configs.load_config([], environ={"TFDS_MANUAL_DIR": "/data/x"})
    assert explicit.tfds_manual_dir == "/data/x"


def test_hash_buckets_parse():
    config = configs.load_config(["--hash-buckets", "train:9, eval:1"], environ={})
    assert config.hash_bucket_map == {"train": 9, "eval": 1}


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([], {"EXAMPLE_LIMIT": "ten"}, "EXAMPLE_LIMIT=ten (--example-limit): must be an integer"),
        (["--num-shards", "x"], {}, "NUM_SHARDS=x (--num-shards): must be an integer"),
        ([], {"ENABLE_CACHE": "maybe"},
         "ENABLE_CACHE=maybe (--enable-cache): must be a boolean (true/false)"),
        ([], {"EXAMPLE_LIMIT": "0"}, "EXAMPLE_LIMIT=0 (--example-limit): must be an integer >= 1"),
        ([], {"BEAM_RUNNING_MODE": "fast"}, "BEAM_RUNNING_MODE=fast (--beam-running-mode): must "
         "be one of in_memory, multi_threading, multi_processing"),
        ([], {"HASH_BUCKETS": "train=9"}, "HASH_BUCKETS=train=9 (--hash-buckets): item "
         "'train=9' must look like 'name:count' ('train:9,eval:1')"),
        ([], {"DATASET": "Cifar-10"}, "DATASET=Cifar-10 (--dataset): must be a TFDS name, "
         "optionally with ':<major>.<minor>.<patch>' ('fashion_mnist:3.0.1')"),
        ([], {"EVAL_MAX_ACCURACY_DROP": "-0.1"},
         "EVAL_MAX_ACCURACY_DROP=-0.1 (--eval-max-accuracy-drop): must be in [0, 1]"),
        ([], {"MODEL_WIDTH": "0"}, "MODEL_WIDTH=0 (--model-width): must be >= 1"),
        ([], {"TRAIN_EPOCHS": "0"}, "TRAIN_EPOCHS=0 (--train-epochs): must be >= 1"),
        ([], {"CLUSTER_COUNT": "1"}, "CLUSTER_COUNT=1 (--cluster-count): must be 0 (off) or >= 2"),
        ([], {"PQAT_LEARNING_RATE": "0"},
         "PQAT_LEARNING_RATE=0.0 (--pqat-learning-rate): must be > 0"),
        ([], {"PRUNE_LAYERS": "conv2,nope"}, "PRUNE_LAYERS=conv2,nope (--prune-layers): must "
         "name prunable layers of model 'cnn_functional': conv1, conv2, conv3, dense1, logits"),
        ([], {"HASH_BUCKETS": "train:9"}, "HASH_BUCKETS=train:9 (--hash-buckets): re-splitting "
         "needs at least two output splits, got train"),
        ([], {"HASH_BUCKETS": "train:0,eval:1"}, "HASH_BUCKETS=train:0,eval:1 (--hash-buckets): "
         "split 'train' needs at least 1 hash bucket, got 0"),
        ([], {"HASH_BUCKETS": "tr-ain:9,eval:1"}, "HASH_BUCKETS=tr-ain:9,eval:1 "
         "(--hash-buckets): output split name 'tr-ain' must be an identifier like 'train'"),
        ([], {"BEAM_ARGS": '--runner="x'}, 'BEAM_ARGS=--runner="x (--beam-args): must split '
         "like a shell command line: No closing quotation"),
        ([], {"TRAIN_SPLIT": "test["}, "TRAIN_SPLIT=test[ (--train-split): 'test[' is not a TFDS "
         "split expression: 'test[' must look like 'train', 'train[:80%]' or 'test[1000:2000]' "
         "(parts joined with '+')"),
        ([], {"EVAL_SPLIT": "test+validation[:5]"}, "EVAL_SPLIT=test+validation[:5] "
         "(--eval-split): mnist has no split validation; its splits: train, test"),
        ([], {"DATASET": "mnist:3.0"}, "DATASET=mnist:3.0 (--dataset): must be a TFDS name, "
         "optionally with ':<major>.<minor>.<patch>' ('fashion_mnist:3.0.1')"),
        ([], {"PIPELINE_NAME": "a/b"}, "PIPELINE_NAME=a/b (--pipeline-name): must be letters, "
         "digits, '_', '-' or '.', starting with a letter or digit, at most 63 characters (TFX's "
         "limit): it names directories and the ML Metadata context"),
    ],
)
def test_bad_values_are_named_with_variable_flag_value_and_rule(argv, environ, message):
    with pytest.raises(configs.SettingsError) as raised:
        configs.load_config(argv, environ=environ)
    assert str(raised.value) == message


def test_help_gives_each_derived_default_in_words():
    help_text = " ".join(configs.build_arg_parser().format_help().split())
    assert "default None" not in help_text
    assert ("--prune-epochs PRUNE_EPOCHS PruneTrainer fine-tuning epochs. (env PRUNE_EPOCHS; "
            f"default {NARROW_PRUNE_EPOCHS} after structured pruning, else "
            f"{PRUNE_TRAINING.epochs})") in help_text
    assert "(env PIPELINE_ROOT; default build/pipelines/<pipeline_name>)" in help_text
    assert ("(env EVAL_MIN_ACCURACY; default per dataset: mnist 0.98, fashion_mnist 0.88; any "
            "other data 0.0)") in help_text


def test_every_library_parameter_an_option_names_exists():
    for option in configs.OPTIONS.values():
        for target in option.sets:
            group, param = target.split(".")
            fields = {f.name for f in dataclasses.fields(configs.PARAM_GROUPS[group])}
            assert param in fields, f"{option.env} sets {target}, which does not exist"


def test_an_option_without_a_default_of_its_own_takes_the_librarys():
    for option in configs.OPTIONS.values():
        if option.sets and not option.derived and not option.why:
            group, param = option.sets[0].split(".")
            library = getattr(configs.PARAM_GROUPS[group], param)
            shown = option.codec.show(library) if option.codec else library
            assert option.default == shown, option.env


def test_the_checked_in_reference_is_the_generated_one():
    checked_in = (configs.PROJECT_ROOT / "docs" / "options.md").read_text()
    assert checked_in == reference.reference_markdown(), "stale: run `make docs`"
    assert str(configs.PROJECT_ROOT) not in checked_in  # the same on every checkout
    for option in configs.OPTIONS.values():
        assert f"| `{option.env}` | `{option.flag}` |" in checked_in


def test_with_options_derives_the_defaults_again():
    config = configs.load_config([], environ={"PRUNE_EPOCHS": "7"})
    full_width = config.with_options(prune_filter_sparsity="none")
    assert full_width.prune_epochs == 7 and full_width.is_set("prune_epochs")
    assert full_width.cluster_count == ClusteringParams().clusters
    assert full_width.with_options(prune_epochs=None).prune_epochs == PRUNE_TRAINING.epochs
    renamed = config.with_options(pipeline_name="other")
    assert renamed.pipeline_root == str(configs.BUILD_DIR / "pipelines" / "other")
    assert config.given_value("pipeline_root") is None and renamed.is_set("pipeline_name")


def test_pruning_options_become_pruning_and_training_params():
    config = configs.load_config(
        ["--prune-layers", "conv2, dense1", "--prune-block-size", "1x4",
         "--prune-layer-sparsity", "dense1:0.97", "--prune-loop", "custom"],
        environ={"PRUNE_EPOCHS": "2", "PRUNE_LEARNING_RATE": "5e-4", "BATCH_SIZE": "64"},
    )
    params = config.pruning_params
    assert params.layer_names == ("conv2", "dense1") and params.block_size == (1, 4)
    assert params.layer_sparsity == (("dense1", 0.97),)
    assert params.end_step is None  # derived from the run's length by the PruneTrainer
    assert params.loop == "custom"
    training = config.prune_training_params
    assert (training.epochs, training.learning_rate, training.batch_size) == (2, 5e-4, 64)


def test_weight_and_channel_masks_have_their_own_frequency():
    config = configs.load_config([], environ={"PRUNE_FREQUENCY": "7",
                                              "PRUNE_FILTER_FREQUENCY": "3"})
    assert (config.pruning_params.frequency, config.filter_params.frequency) == (7, 3)
    alone = configs.load_config([], environ={"PRUNE_FREQUENCY": "7"})
    assert alone.filter_params.frequency == FilterParams().frequency


def test_layer_sparsity_none_gives_every_layer_the_final_sparsity():
    config = configs.load_config([], environ={"PRUNE_LAYER_SPARSITY": "none",
                                              "PRUNE_FINAL_SPARSITY": "0.8"})
    assert config.pruning_params.layer_sparsity == ()
    assert config.pruning_params.final_sparsity_of("conv1") == 0.8


def _library_default_differs(config: configs.PipelineConfig, option) -> bool:
    """Whether the option's value in `config` differs from the library default of any
    parameter it sets."""
    value = option.library_value(getattr(config, option.name))
    for target in option.sets:
        group, param = target.split(".")
        if value != getattr(configs.PARAM_GROUPS[group], param):
            return True
    return False


def test_a_default_differs_from_the_librarys_only_where_its_option_says_why():
    """Each option that sets a library parameter: its default is the library's, unless the
    option declares why not (shown in --help and docs/options.md); and each such declaration
    is true of the defaults: of the CNN on MNIST, of another dataset or of another model."""
    cases = [configs.load_config([], environ=environ) for environ in (
        {}, {"DATASET": "fashion_mnist"}, {"MODEL_MODULE": "pruning.model.resnet8"})]
    for option in configs.OPTIONS.values():
        if not option.sets:
            continue
        differs = any(_library_default_differs(config, option) for config in cases)
        assert differs == bool(option.why), option.env


def test_the_defaults_are_the_narrowed_models_recipe():
    config = configs.load_config([], environ={})
    assert config.model_params == ModelParams()
    assert config.training_params == TrainingParams()
    # Structured pruning is on by default, with the narrowed model's recipe.
    assert config.filter_params == FilterParams(
        filter_sparsity=architecture.NARROW_FILTER_SPARSITY)
    assert config.pruning_params == PruningParams(
        layer_sparsity=architecture.NARROW_LAYER_SPARSITY)
    assert config.prune_training_params == dataclasses.replace(
        PRUNE_TRAINING, epochs=NARROW_PRUNE_EPOCHS)
    assert configs.load_config([], environ={"PRUNE_EPOCHS": "3"}
                               ).prune_training_params.epochs == 3
    # 'none' keeps the baseline's shape and the full-width model's defaults.
    full_width = configs.load_config([], environ={"PRUNE_FILTER_SPARSITY": "none"})
    assert full_width.filter_params == FilterParams()
    assert not full_width.filter_params.enabled
    assert full_width.pruning_params == PruningParams(
        layer_sparsity=architecture.DEFAULT_LAYER_SPARSITY)
    assert full_width.prune_training_params == PRUNE_TRAINING
    assert full_width.clustering_params == ClusteringParams()
    assert config.clustering_params == ClusteringParams(clusters=NARROW_CLUSTERS)
    for count in ("0", "8"):
        assert configs.load_config([], environ={"CLUSTER_COUNT": count}
                                   ).clustering_params.clusters == int(count)
    assert config.compression_params == CompressionParams()
    assert config.gate_params == GateParams()


def test_configs_imports_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys, pipelines.configs as c; c.load_config([], environ={}); "
            "print(sorted(m for m in ('tensorflow', 'tfx', 'tf_keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=configs.PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
