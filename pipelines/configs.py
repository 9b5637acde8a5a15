"""Every option of the pipeline, each declared once, checked before TensorFlow is imported.

An option is one field of `PipelineConfig` declared with `Section.option(...)` (pipelines/
options.py): its variable, its flag (the field's name), its type (the annotation), its default (a
value, the library's own, or a `Derived` one described in words), its help and the library
parameters it sets. Parsing
(`load_config`: a flag beats the environment, which beats the default), the derived defaults,
validation (`validate`, one place), `--help`, the generated reference (docs/options.md, `make
docs`) and the library's parameter objects (`model_params`, `pruning_params`, ...) all come from
those declarations:

    python -m pipelines.local_runner --dataset fashion_mnist --example-limit 1000
    DATASET=fashion_mnist EXAMPLE_LIMIT=1000 make run

This module and the library's parameter objects (`pruning.params`) import no TensorFlow, so a bad
option fails in well under a second with one line (`SettingsError`) naming the variable and flag,
the value and what is allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shlex
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from components import splits
from components.splits import DEFAULT_NUM_SHARDS, DEFAULT_SPLITS
from pipelines import stores
from pipelines.options import (
    NAMES,
    Codec,
    Derived,
    Option,
    Section,
    SettingsError,
    comma_list,
    counts_codec,
    fractions_codec,
    int_pair_codec,
    pairs_codec,
)
from pruning import architecture
from pruning.architecture import (
    DEFAULT_LAYER_SPARSITY,
    NARROW_FILTER_SPARSITY,
    NARROW_LAYER_SPARSITY,
)
from pruning.model import modules
from pruning.params import (
    ANY_MODEL_FILTER_SPARSITY,
    ANY_MODEL_FINAL_SPARSITY,
    NARROW_CLUSTERS,
    NARROW_PRUNE_EPOCHS,
    PRUNE_TRAINING,
    ClusteringParams,
    CompressionParams,
    FilterParams,
    GateParams,
    InvalidParam,
    ModelParams,
    PruningParams,
    TrainingParams,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = PROJECT_ROOT / "build"
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"

# The library's parameter objects the options set, each with the defaults it starts from: an
# option that sets `group.param` and declares no default of its own takes this object's value.
PARAM_GROUPS = {
    "model": ModelParams(), "training": TrainingParams(), "prune_training": PRUNE_TRAINING,
    "filters": FilterParams(), "pruning": PruningParams(), "clustering": ClusteringParams(),
    "compression": CompressionParams(), "gate": GateParams(),
}
# The gate's defaults per supported dataset. Fashion-MNIST is harder and pruning costs it more,
# so its floor is lower and its drop limit wider (docs/design.md has the figures behind them).
DATASET_GATES = {"mnist": GateParams(),
                 "fashion_mnist": GateParams(min_accuracy=0.88, max_accuracy_drop=0.015)}
# Any other data (another TFDS dataset, EXAMPLES_DIR): no floor, because nothing says what
# accuracy the data allows; at most one point below the baseline, wider than MNIST's half point
# as for the harder Fashion-MNIST (docs/design.md, "The gate").
OTHER_DATA_GATE = GateParams(min_accuracy=0.0, max_accuracy_drop=0.01)
TFDS_SPLITS = ("train", "test")  # the splits MNIST and Fashion-MNIST have
BEAM_RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")
LOCAL_BEAM_RUNNER = "FnApiRunner"
_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_DATASET = re.compile(r"^[a-z0-9_]+(:\d+\.\d+\.\d+)?$")
FILTER_FRACTIONS = fractions_codec("'layer:fraction' ('conv2:0.5')")
LAYER_SPARSITIES = pairs_codec("'layer:sparsity' ('dense1:0.98')")
HASH_BUCKET_COUNTS = counts_codec("'name:count' ('train:9,eval:1')")
__all__ = ["SettingsError", "comma_list"]  # re-exported: what the entry points catch and use



def _dataset_name(dataset: str) -> str:
    return dataset.split(":", 1)[0]


def _project_cnn(values: Mapping[str, Any]) -> bool:
    """Whether these options train the project's CNN (its own defaults and fast checks)."""
    return (not values["base_model"]
            and modules.SHIPPED.get(values["model_module"], values["model_module"])
            == modules.DEFAULT_MODULE)


def _for_the_cnn(cnn: Any, any_model: Any, codec: Codec | None = None,
                 structured: Any = None) -> Derived:
    """One default for the project's CNN, another for any other model. `structured`: the
    CNN's default with structured pruning on, when `cnn` is its default without."""
    if codec is not None:  # the option holds text
        cnn, any_model = codec.show(cnn), codec.show(any_model)
        structured = None if structured is None else codec.show(structured)
    if structured is None:
        words = f"{cnn} for the project's CNN, else {any_model}"
        return Derived(words, lambda v: cnn if _project_cnn(v) else any_model)
    words = (f"{structured} for the project's CNN after structured pruning ({cnn} without), "
             f"else {any_model}")
    return Derived(words, lambda v: (any_model if not _project_cnn(v) else
                                     structured if _structured(v) else cnn))


def _structured(values: Mapping[str, Any]) -> bool:
    """Whether structured pruning is on in these options (it changes several defaults)."""
    return bool(OPTIONS["prune_filter_sparsity"].library_value(values["prune_filter_sparsity"]))


def _after_structured(narrowed: Any, full_width: Any, codec: Codec | None = None) -> Derived:
    """One default for the narrowed model structured pruning leaves, another for the full one."""
    if codec is not None:  # the option holds text
        narrowed, full_width = codec.show(narrowed), codec.show(full_width)
    return Derived(f"{narrowed} after structured pruning, else {full_width}",
                   lambda v: narrowed if _structured(v) else full_width)


def _gate_of(values: Mapping[str, Any]) -> GateParams:
    if values["examples_dir"]:
        return OTHER_DATA_GATE
    return DATASET_GATES.get(_dataset_name(values["dataset"]), OTHER_DATA_GATE)


def _per_dataset(param: str) -> Derived:
    known = ", ".join(f"{name} {getattr(gate, param)}" for name, gate in DATASET_GATES.items())
    return Derived(f"per dataset: {known}; any other data {getattr(OTHER_DATA_GATE, param)}",
                   lambda v: getattr(_gate_of(v), param))


def _manual_dir(values: Mapping[str, Any]) -> str | None:
    shared = SHARED_DATA_DIR / _dataset_name(values["dataset"])
    return str(shared) if shared.is_dir() else None


def _data_name(values: Mapping[str, Any]) -> str:
    """What names the data: the TFDS dataset, or the last part of EXAMPLES_DIR."""
    if values["examples_dir"]:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", values["examples_dir"].rstrip("/").rsplit("/")[-1])
        return name.lstrip("._-") or "examples"
    return _dataset_name(values["dataset"])


DATA = Section("Data and storage", PARAM_GROUPS)
BEAM = Section("Beam and caching", PARAM_GROUPS)
MODEL = Section("The model (pruning/model/)", PARAM_GROUPS)
TRAINER = Section("Baseline training (Trainer)", PARAM_GROUPS)
FILTERS = Section("Structured pruning (PruneTrainer, first)", PARAM_GROUPS)
PRUNING = Section("Weight pruning (PruneTrainer): the Keras pruning API", PARAM_GROUPS)
CLUSTERING = Section("Clustering (PruneTrainer, last)", PARAM_GROUPS)
GATE = Section("The gate (Evaluator, TFMA): the pruned model is blessed only if it passes both",
               PARAM_GROUPS)
EXPORT = Section("CompressExporter", PARAM_GROUPS)
DEPLOY = Section("Pusher and Kubeflow", PARAM_GROUPS)

_WHY_FILTERS = ("the library's FilterParams() is off, so that a notebook narrows a model only "
                "when asked; the CNN's own fractions were measured layer by layer "
                "(docs/design.md, \"The micro shape\")")
CNN_OPTIONS = ("keras_api", "model_width", "dense_units", "dropout")
_CNN_ONLY = "applies to the project's CNN only (MODEL_MODULE unset or cnn, no BASE_MODEL)"


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """The pipeline's options, every derived default filled in. Build it with `load_config`
    (or `with_options`), which validates it; `given` names the options the user set."""

    dataset: str = DATA.option(
        "DATASET", "TFDS image classification dataset (an Image and a ClassLabel feature), "
        "optionally name:version: mnist, fashion_mnist, cifar10, ...", default="mnist")
    examples_dir: str | None = DATA.option(
        "EXAMPLES_DIR", "The user's own data instead of TFDS: a directory (local or a bucket "
        "URI) with train/ and eval/ subdirectories of TFRecord files of tf.Example, gzipped or "
        "not, read with TFX's ImportExampleGen.", default=None)
    image_feature: str = DATA.option(
        "IMAGE_FEATURE", "With EXAMPLES_DIR: the feature holding each image, PNG or JPEG bytes, "
        "or raw pixels (uint8 bytes or an int64 list, with IMAGE_SHAPE); e.g. image/encoded.",
        default="image")
    label_feature: str = DATA.option(
        "LABEL_FEATURE", "With EXAMPLES_DIR: the int64 feature holding each class, counted "
        "from 0; e.g. image/class/label.", default="label")
    image_shape: str = DATA.option(
        "IMAGE_SHAPE", "With EXAMPLES_DIR and raw pixels: height,width,channels, e.g. 32,32,3 "
        "(encoded images say their own).", default="")
    pipeline_name: str = DATA.option(
        "PIPELINE_NAME", "TFX pipeline name; for Kubeflow an unset name becomes mnist-pruning.",
        default=Derived("<dataset or EXAMPLES_DIR's last part>_pruning (mnist_pruning)",
                        lambda v: f"{_data_name(v)}_pruning"))
    pipeline_root: str = DATA.option(
        "PIPELINE_ROOT", "Where artifacts go.",
        default=Derived("build/pipelines/<pipeline_name>",
                        lambda v: str(BUILD_DIR / "pipelines" / v["pipeline_name"])))
    metadata_path: str = DATA.option(
        "METADATA_PATH", "SQLite ML Metadata file.",
        default=Derived("<pipeline_root>/metadata.sqlite",
                        lambda v: os.path.join(v["pipeline_root"], "metadata.sqlite")))
    # A shared store instead (pipelines/stores.py); the password only from MLMD_MYSQL_PASSWORD.
    mlmd_mysql_host: str | None = DATA.option(
        "MLMD_MYSQL_HOST", "MySQL or MariaDB server to record ML Metadata in instead of the "
        f"SQLite file; password from ${stores.MYSQL_PASSWORD_ENV}.", default=None)
    mlmd_mysql_port: int = DATA.option("MLMD_MYSQL_PORT", "Its port.",
                                       default=stores.MYSQL_DEFAULT_PORT)
    mlmd_mysql_database: str = DATA.option(
        "MLMD_MYSQL_DATABASE", "Its database (it must exist; ML Metadata creates its tables).",
        default=stores.MYSQL_DEFAULT_DATABASE)
    mlmd_mysql_user: str = DATA.option("MLMD_MYSQL_USER", "Its user.",
                                       default=stores.MYSQL_DEFAULT_USER)
    tfds_data_dir: str = DATA.option(
        "TFDS_DATA_DIR", "Where TFDS keeps prepared data.",
        default=Derived("build/tensorflow_datasets",
                        lambda v: str(BUILD_DIR / "tensorflow_datasets")))
    tfds_manual_dir: str | None = DATA.option(
        "TFDS_MANUAL_DIR", "Directory with the dataset's original files (TFDS's manual_dir); "
        "unset or empty, TFDS downloads them where the machine reaches their hosts.",
        default=Derived("../shared/data/<dataset> when it exists", _manual_dir))
    train_split: str = DATA.option("TRAIN_SPLIT", "TFDS split expression for 'train'.",
                                   default=DEFAULT_SPLITS["train"])
    eval_split: str = DATA.option("EVAL_SPLIT", "TFDS split expression for 'eval'.",
                                  default=DEFAULT_SPLITS["eval"])
    hash_buckets: str = DATA.option(
        "HASH_BUCKETS", "Re-split train+eval by example hash, e.g. 'train:9,eval:1'; empty keeps "
        "TFDS's splits.", default="", codec=HASH_BUCKET_COUNTS)
    example_limit: int | None = DATA.option(
        "EXAMPLE_LIMIT", "At most this many examples per split (quick runs); unset: all.",
        default=None)
    num_shards: int = DATA.option("NUM_SHARDS", "TFRecord files per ExampleGen output split.",
                                  default=DEFAULT_NUM_SHARDS)
    # in_memory: as fast as multi_threading here, which lost records on full MNIST; and
    # multi_processing starts a worker per core, each paying TensorFlow's import.
    beam_running_mode: str = BEAM.option(
        "BEAM_RUNNING_MODE", "Beam's local runner mode: multi_threading, multi_processing or "
        "in_memory.", default="in_memory")
    beam_num_workers: int = BEAM.option(
        "BEAM_NUM_WORKERS", "Beam's local runner workers in the multi_threading and "
        "multi_processing modes; 0 means one per CPU core.", default=0)
    enable_cache: bool = BEAM.option("ENABLE_CACHE", "Reuse outputs of unchanged components.",
                                     default=True)
    stop_on_anomalies: bool = BEAM.option(
        "STOP_ON_ANOMALIES", "Fail the Trainer, before it reads an example, when the "
        "ExampleValidator found anomalies; false trains anyway (the anomalies are logged).",
        default=True)
    beam_args: str = BEAM.option(
        "BEAM_ARGS", "Beam pipeline args replacing the local runner's, e.g. for a cluster "
        "'--runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp'.",
        default="")

    model_module: str = MODEL.option(
        "MODEL_MODULE", "The model the Trainer builds and trains: a Python file or an importable "
        "module defining build_model(input_shape, num_classes) -> tf_keras.Model, or a shipped "
        f"one: {', '.join(modules.SHIPPED)} (pruning/model/).", default="cnn")
    base_model: str | None = MODEL.option(
        "BASE_MODEL", "A model already trained (a .keras or .h5 file, or a SavedModel written by "
        "tf-keras; any URI TensorFlow reads), brought in with TFX's Importer: the Trainer does "
        "not train, and pruning starts from it.", default=None)
    keras_api: str = MODEL.option(
        "KERAS_API", "The project's CNN: the Keras API that builds it, functional or sequential "
        "(same layers; TFMOT wraps the two differently).", sets=("model.keras_api",))
    model_width: int = MODEL.option(
        "MODEL_WIDTH", "The project's CNN: filters of conv1; conv2 has twice as many.",
        sets=("model.width",))
    dense_units: int = MODEL.option(
        "DENSE_UNITS", "The project's CNN: units of the ScaledDense layer dense1.",
        sets=("model.dense_units",))
    dropout: float = MODEL.option("DROPOUT", "The project's CNN: dropout before the classifier.",
                                  sets=("model.dropout",))

    train_epochs: int = TRAINER.option("TRAIN_EPOCHS", "Baseline training epochs.",
                                       sets=("training.epochs",))
    batch_size: int = TRAINER.option("BATCH_SIZE", "Batch size of both trainers.",
                                     sets=("training.batch_size", "prune_training.batch_size"))
    learning_rate: float = TRAINER.option(
        "LEARNING_RATE", "Baseline peak learning rate (Adam, warm-up then cosine to 0).",
        sets=("training.learning_rate",))
    warmup_fraction: float = TRAINER.option(
        "WARMUP_FRACTION", "Share of each trainer's steps spent warming the rate up.",
        sets=("training.warmup_fraction", "prune_training.warmup_fraction"))
    augment: bool = TRAINER.option("AUGMENT", "Random 1-pixel shifts of the training images.",
                                   sets=("training.augment", "prune_training.augment"))
    seed: int = TRAINER.option(
        "SEED", "Random seed of both trainers: initial weights, shuffling, augmentation and "
        "dropout. One seed gives the same models (op determinism on); `make bench "
        "BENCH_ARGS=\"--seeds N\"` runs N seeds from it.",
        sets=("training.seed", "prune_training.seed"))

    prune_filter_sparsity: str = FILTERS.option(
        "PRUNE_FILTER_SPARSITY", "The fraction of channels each coupled channel group of the "
        "model loses (one number for every group that can), or 'name:fraction,...' for the "
        "groups holding those layers' outputs; the model is then rebuilt without them. 'none' "
        "keeps the baseline's shape (weight pruning only).",
        default=_for_the_cnn(FILTER_FRACTIONS.show(NARROW_FILTER_SPARSITY),
                             FILTER_FRACTIONS.show(ANY_MODEL_FILTER_SPARSITY)),
        sets=("filters.filter_sparsity",), codec=FILTER_FRACTIONS, why=_WHY_FILTERS)
    prune_filter_epochs: int = FILTERS.option(
        "PRUNE_FILTER_EPOCHS", "Fine-tuning epochs of the full-width model while its channels "
        "are removed.", sets=("filters.epochs",))
    prune_filter_learning_rate: float = FILTERS.option(
        "PRUNE_FILTER_LEARNING_RATE", "Their peak learning rate.",
        sets=("filters.learning_rate",))
    prune_filter_frequency: int = FILTERS.option(
        "PRUNE_FILTER_FREQUENCY", "Optimizer steps between channel-mask updates.",
        sets=("filters.frequency",))
    prune_teacher_weight: float = FILTERS.option(
        "PRUNE_TEACHER_WEIGHT", "With structured pruning: the share of the baseline's predicted "
        "probabilities in the targets of every later fine-tuning (distillation); 0 = the labels "
        "alone.", sets=("filters.teacher_weight",))

    prune_epochs: int = PRUNING.option(
        "PRUNE_EPOCHS", "PruneTrainer fine-tuning epochs.",
        default=_after_structured(NARROW_PRUNE_EPOCHS, PRUNE_TRAINING.epochs),
        sets=("prune_training.epochs",),
        why="a narrowed model recovers its accuracy over more epochs (docs/design.md)")
    prune_learning_rate: float = PRUNING.option(
        "PRUNE_LEARNING_RATE", "PruneTrainer peak learning rate.",
        sets=("prune_training.learning_rate",))
    prune_loop: str = PRUNING.option(
        "PRUNE_LOOP", "fit (model.fit + callbacks) or custom (GradientTape loop).",
        sets=("pruning.loop",))
    prune_schedule: str = PRUNING.option(
        "PRUNE_SCHEDULE", "polynomial_decay (PolynomialDecay) or constant (ConstantSparsity).",
        sets=("pruning.schedule",))
    prune_initial_sparsity: float = PRUNING.option(
        "PRUNE_INITIAL_SPARSITY", "PolynomialDecay initial_sparsity.",
        sets=("pruning.initial_sparsity",))
    prune_final_sparsity: float = PRUNING.option(
        "PRUNE_FINAL_SPARSITY", "Target sparsity of every pruned layer not in "
        "PRUNE_LAYER_SPARSITY (ConstantSparsity's target_sparsity).",
        default=_for_the_cnn(PruningParams().final_sparsity, ANY_MODEL_FINAL_SPARSITY),
        sets=("pruning.final_sparsity",),
        why="a model without measured per-layer targets gets one moderate target for every "
        "layer (docs/design.md, \"Any model's defaults\")")
    prune_layer_sparsity: str = PRUNING.option(
        "PRUNE_LAYER_SPARSITY", "Per-layer targets, 'name:sparsity,...'; 'none' gives every "
        "layer PRUNE_FINAL_SPARSITY.",
        default=_for_the_cnn(DEFAULT_LAYER_SPARSITY, (), LAYER_SPARSITIES,
                             structured=NARROW_LAYER_SPARSITY),
        sets=("pruning.layer_sparsity",), codec=LAYER_SPARSITIES,
        why="the library's PruningParams() has none (every layer at final_sparsity); the CNN's "
        "layers were measured one by one (docs/design.md)")
    prune_begin_step: int = PRUNING.option("PRUNE_BEGIN_STEP", "Step at which pruning starts.",
                                           sets=("pruning.begin_step",))
    prune_end_step: int | None = PRUNING.option(
        "PRUNE_END_STEP", "PolynomialDecay end_step; unset: one epoch before the end.",
        sets=("pruning.end_step",))
    prune_frequency: int = PRUNING.option(
        "PRUNE_FREQUENCY", "Optimizer steps between weight-mask updates (TFMOT's frequency).",
        sets=("pruning.frequency",))
    prune_layers: str = PRUNING.option(
        "PRUNE_LAYERS", "Prune only these layers, 'conv2,dense1'; with PRUNE_LAYER_TYPES empty "
        "too, the whole model is pruned.", sets=("pruning.layer_names",), codec=NAMES)
    prune_layer_types: str = PRUNING.option(
        "PRUNE_LAYER_TYPES", "Prune only layers of these types: Conv2D, Dense, ScaledDense.",
        sets=("pruning.layer_types",), codec=NAMES)
    prune_block_size: str = PRUNING.option(
        "PRUNE_BLOCK_SIZE", "block_size 'rows x cols' of 2-D kernels, e.g. 1x4.",
        sets=("pruning.block_size",), codec=int_pair_codec("x"))
    prune_block_pooling: str = PRUNING.option(
        "PRUNE_BLOCK_POOLING", "block_pooling_type: AVG or MAX.",
        sets=("pruning.block_pooling_type",))
    prune_m_by_n: str = PRUNING.option(
        "PRUNE_M_BY_N", "sparsity_m_by_n, e.g. 2:4 (structured; overrides the sparsities).",
        sets=("pruning.sparsity_m_by_n",), codec=int_pair_codec(":", empty_is_none=True))
    prune_warm_start: bool = PRUNING.option(
        "PRUNE_WARM_START", "Continue the newest PruningCheckpoint of this pipeline (through a "
        "Resolver) instead of starting from the baseline; with structured pruning, that "
        "checkpoint's narrowed model (the same PRUNE_FILTER_SPARSITY) is continued and no "
        "filters are removed again.", default=False)

    cluster_count: int = CLUSTERING.option(
        "CLUSTER_COUNT", "Sparsity-preserving weight clustering of the pruned layers: values per "
        "kernel (zero kept as its own); 0 turns clustering off.",
        default=_after_structured(NARROW_CLUSTERS, ClusteringParams().clusters),
        sets=("clustering.clusters",),
        why="a narrowed kernel has fewer weights to share each value: 8 values cost it about "
        "0.1 pp more than 16 (docs/design.md)")
    cluster_epochs: int = CLUSTERING.option(
        "CLUSTER_EPOCHS", "Fine-tuning epochs of the clustered model.",
        sets=("clustering.epochs",))
    cluster_learning_rate: float = CLUSTERING.option(
        "CLUSTER_LEARNING_RATE", "Learning rate (Adam, constant) of that fine-tuning.",
        sets=("clustering.learning_rate",))

    eval_min_accuracy: float = GATE.option(
        "EVAL_MIN_ACCURACY", "Lowest pruned-model accuracy on the eval split that blesses.",
        default=_per_dataset("min_accuracy"), sets=("gate.min_accuracy",),
        why="the library's GateParams() is MNIST's; other data has no floor, since nothing "
        "says what accuracy it allows, and is gated by the drop alone")
    eval_max_accuracy_drop: float = GATE.option(
        "EVAL_MAX_ACCURACY_DROP", "Largest accuracy drop against the baseline that blesses "
        "(0.005 = 0.5 percentage points).", default=_per_dataset("max_accuracy_drop"),
        sets=("gate.max_accuracy_drop",),
        why="the library's GateParams() is MNIST's; other data gets one point, between "
        "MNIST's half point and the harder Fashion-MNIST's 1.5")

    representative_examples: int = EXPORT.option(
        "REPRESENTATIVE_EXAMPLES", "Train examples that calibrate full-integer quantization.",
        sets=("compression.representative_examples",))
    latency_runs: int = EXPORT.option(
        "LATENCY_RUNS", "TFLite invocations per file whose median is the latency; 0 skips it.",
        sets=("compression.latency_runs",))
    pqat_epochs: int = EXPORT.option(
        "PQAT_EPOCHS", "Pruning-preserving quantization-aware training epochs for an extra "
        "pruned_pqat_int8.tflite; 0 skips it.", sets=("compression.pqat_epochs",))
    pqat_learning_rate: float = EXPORT.option(
        "PQAT_LEARNING_RATE", "Its learning rate (Adam).", sets=("compression.pqat_learning_rate",))

    serving_model_dir: str = DEPLOY.option(
        "SERVING_MODEL_DIR", "Where blessed models are pushed.",
        default=Derived("build/serving/<pipeline_name>",
                        lambda v: str(BUILD_DIR / "serving" / v["pipeline_name"])))
    kfp_image: str = DEPLOY.option(
        "KFP_IMAGE", "Container image every step of the compiled Kubeflow pipeline runs in "
        "(kubeflow/Dockerfile).", default="ghcr.io/example/tfx-pruning-pipeline:latest")

    given: frozenset[str] = dataclasses.field(default=frozenset(), kw_only=True)

    # What the options build. A bad value raises the SettingsError naming its option.
    @property
    def model_params(self) -> ModelParams:
        return self.params("model")

    @property
    def training_params(self) -> TrainingParams:
        return self.params("training")

    @property
    def prune_training_params(self) -> TrainingParams:
        return self.params("prune_training")

    @property
    def filter_params(self) -> FilterParams:
        return self.params("filters")

    @property
    def pruning_params(self) -> PruningParams:
        return self.params("pruning")

    @property
    def clustering_params(self) -> ClusteringParams:
        return self.params("clustering")

    @property
    def compression_params(self) -> CompressionParams:
        return self.params("compression")

    @property
    def gate_params(self) -> GateParams:
        return self.params("gate")

    def params(self, group: str):
        """PARAM_GROUPS[group] with every parameter an option sets taken from it."""
        values = {}
        for option in OPTIONS.values():
            for target in option.sets:
                target_group, param = target.split(".")
                if target_group == group:
                    values[param] = option.library_value(getattr(self, option.name))
        if group == "pruning" and self.prune_m_by_n:  # the pattern replaces per-layer targets
            values["layer_sparsity"] = ()
        try:
            return dataclasses.replace(PARAM_GROUPS[group], **values)
        except InvalidParam as error:
            raise self.explain(error, group) from None

    def explain(self, error: InvalidParam, group: str = "pruning") -> SettingsError:
        """The option behind a library parameter's error (default: a weight-pruning parameter,
        the ones checked again against the built model, e.g. layer names)."""
        target = f"{group}.{error.param}"
        for option in OPTIONS.values():
            if target in option.sets:
                return option_error(option.name, getattr(self, option.name), error.rule)
        return SettingsError(str(error))

    def is_set(self, name: str) -> bool:
        """Whether the user set option `name` (by its flag or a non-empty variable)."""
        return name in self.given

    def given_value(self, name: str) -> Any:
        """Option `name` as the user set it, else None (not its default)."""
        return getattr(self, name) if name in self.given else None

    def with_options(self, **changes) -> PipelineConfig:
        """These options changed (None: back to its default) and the derived defaults derived
        again from the result, validated."""
        given = {name: getattr(self, name) for name in self.given}
        given.update(changes)
        return from_options({name: value for name, value in given.items() if value is not None})

    @property
    def label_key(self) -> str:
        """The Examples' label feature: LABEL_FEATURE with EXAMPLES_DIR, else TfdsExampleGen's."""
        return self.label_feature if self.examples_dir else "label"

    @property
    def declared_image_shape(self) -> tuple[int, int, int] | None:
        """IMAGE_SHAPE as (height, width, channels); None when unset."""
        if not self.image_shape.strip():
            return None
        parts = self.image_shape.replace(" ", "").split(",")
        if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
            raise ValueError("must be height,width,channels, three positive integers "
                             "(e.g. 32,32,3)")
        if int(parts[2]) not in (1, 3, 4):
            raise ValueError("must have 1, 3 or 4 channels")
        return tuple(int(part) for part in parts)

    @property
    def project_cnn(self) -> bool:
        """Whether the model is the project's CNN (`MODEL_MODULE` cnn, no `BASE_MODEL`)."""
        return _project_cnn({"base_model": self.base_model, "model_module": self.model_module})

    @property
    def model_source(self) -> modules.ModuleSource:
        """The model module's source, as it travels with the pipeline."""
        return modules.read_source(self.model_module)

    @property
    def metadata_store(self) -> stores.Store:
        """The MySQL server when MLMD_MYSQL_HOST is set, else the SQLite file."""
        if self.mlmd_mysql_host:
            return stores.MySQLStore(self.mlmd_mysql_host, self.mlmd_mysql_port,
                                     self.mlmd_mysql_database, self.mlmd_mysql_user)
        return stores.SqliteStore(self.metadata_path)

    @property
    def dataset_name(self) -> str:
        """The TFDS name without a version: `fashion_mnist` of `fashion_mnist:3.0.1`."""
        return _dataset_name(self.dataset)

    @property
    def splits(self) -> dict[str, str]:
        return {"train": self.train_split, "eval": self.eval_split}

    @property
    def hash_bucket_map(self) -> dict[str, int] | None:
        return OPTIONS["hash_buckets"].library_value(self.hash_buckets)

    @property
    def beam_pipeline_args(self) -> list[str]:
        if self.beam_args.strip():
            return shlex.split(self.beam_args)
        # FnApiRunner, the engine Beam's DirectRunner runs a batch pipeline on, named directly:
        # the DirectRunner first tries PrismRunner, which downloads its binary at run time.
        args = [f"--runner={LOCAL_BEAM_RUNNER}", f"--direct_running_mode={self.beam_running_mode}"]
        if self.beam_running_mode != "in_memory":  # in_memory has one worker (Beam says so)
            args.append(f"--direct_num_workers={self.beam_num_workers}")
        return args


def _base_type(hint) -> type:
    """bool, int, float or str of a field annotation such as 'int | None'."""
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


_HINTS = typing.get_type_hints(PipelineConfig)
OPTIONS: dict[str, Option] = {
    field.name: dataclasses.replace(field.metadata["option"], name=field.name,
                                    kind=_base_type(_HINTS[field.name]))
    for field in dataclasses.fields(PipelineConfig) if "option" in field.metadata
}


def _check(condition: bool, config: PipelineConfig, name: str, rule: str) -> None:
    if not condition:
        raise option_error(name, getattr(config, name), rule)


def validate(config: PipelineConfig) -> None:
    """Every rule an option's value must keep, in one place: SettingsError naming the first
    option that breaks one. The pruning options are checked against the model's layers too."""
    _check(_DATASET.match(config.dataset) is not None, config, "dataset",
           "must be a TFDS name, optionally with ':<major>.<minor>.<patch>' "
           "('fashion_mnist:3.0.1')")
    _check(_PIPELINE_NAME.match(config.pipeline_name) is not None, config, "pipeline_name",
           "must be letters, digits, '_', '-' or '.', starting with a letter or digit, at most "
           "63 characters (TFX's limit): it names directories and the ML Metadata context")
    _check(config.example_limit is None or config.example_limit >= 1, config, "example_limit",
           "must be an integer >= 1")
    _check(config.num_shards >= 1, config, "num_shards", "must be an integer >= 1")
    _check(1 <= config.mlmd_mysql_port <= 65535, config, "mlmd_mysql_port",
           "must be a TCP port, 1-65535")
    _check(config.beam_num_workers >= 0, config, "beam_num_workers", "must be an integer >= 0")
    _check(config.beam_running_mode in BEAM_RUNNING_MODES, config, "beam_running_mode",
           f"must be one of {', '.join(BEAM_RUNNING_MODES)}")
    for name in ("train_split", "eval_split"):
        try:
            names = splits.split_names(getattr(config, name))
        except ValueError as error:
            raise option_error(name, getattr(config, name), str(error)) from None
        if config.dataset_name in DATASET_GATES:  # another dataset's splits: its builder's
            unknown = [n for n in names if n not in TFDS_SPLITS]
            _check(not unknown, config, name, f"{config.dataset_name} has no split "
                   f"{', '.join(unknown)}; its splits: {', '.join(TFDS_SPLITS)}")
    _validate_data(config)
    buckets = config.hash_bucket_map
    if buckets:
        try:
            splits.check_hash_buckets(buckets)
        except ValueError as error:
            raise option_error("hash_buckets", config.hash_buckets, str(error)) from None
    try:
        shlex.split(config.beam_args)
    except ValueError as error:  # an unclosed quote
        raise option_error("beam_args", config.beam_args,
                           f"must split like a shell command line: {error}") from None
    for group in PARAM_GROUPS:  # each parameter object checks its own values (pruning/params.py)
        config.params(group)
    _validate_model(config)


DATA_OPTIONS = ("image_feature", "label_feature", "image_shape")  # EXAMPLES_DIR's own
TFDS_OPTIONS = ("dataset", "tfds_manual_dir", "train_split", "eval_split", "hash_buckets",
                "example_limit", "num_shards")


def _validate_data(config: PipelineConfig) -> None:
    """EXAMPLES_DIR and the options that describe it, or a TFDS dataset: one or the other."""
    if not config.examples_dir:
        for name in DATA_OPTIONS:
            _check(not config.is_set(name), config, name, "applies with EXAMPLES_DIR only")
        return
    for name in TFDS_OPTIONS:
        _check(not config.is_set(name), config, name,
               "applies to a TFDS dataset, not with EXAMPLES_DIR (its train/ and eval/ "
               "directories are the splits)")
    _check("://" in config.examples_dir or os.path.isdir(config.examples_dir), config,
           "examples_dir", "must be a directory with train/ and eval/ subdirectories; there is "
           "none at that path")
    for name in ("image_feature", "label_feature"):
        _check(bool(getattr(config, name).strip()), config, name, "must name a feature")
    _check(config.image_feature != config.label_feature, config, "label_feature",
           "must differ from IMAGE_FEATURE")
    if config.image_shape:
        try:
            config.declared_image_shape  # noqa: B018 (parses it)
        except ValueError as error:
            raise option_error("image_shape", config.image_shape, str(error)) from None


def _validate_model(config: PipelineConfig) -> None:
    """The model options. The project's CNN: the pruning options against its layer table, here
    (no TensorFlow). Any other model: its module or file must be there; the pruning options
    are checked on the built or loaded model before any training (`pipelines/model_check.py`)."""
    if config.base_model:
        _check(config.is_set("base_model") and not config.is_set("model_module"), config,
               "model_module", "cannot be set with BASE_MODEL: the imported model is trained")
        _check("://" in config.base_model or os.path.exists(config.base_model), config,
               "base_model", "must be a .keras or .h5 file or a SavedModel directory; there is "
               "nothing at that path")
    else:
        try:
            config.model_source  # noqa: B018 (reads the module's source: is it there?)
        except modules.ModelModuleError as error:
            raise option_error("model_module", config.model_module, str(error)) from None
    if not config.project_cnn:
        for name in CNN_OPTIONS:
            _check(not config.is_set(name), config, name, _CNN_ONLY)
        return
    model = config.model_params
    name = architecture.model_name(model)
    layers = architecture.prunable_layers(model)
    if config.filter_params.enabled:
        try:
            layers = architecture.narrowed_layers(layers, config.filter_params.filter_sparsity,
                                                  name)
        except InvalidParam as error:
            raise config.explain(error, "filters") from None
    try:  # weight pruning applies to the model structured pruning leaves
        architecture.select_layers(layers, config.pruning_params, name)
    except InvalidParam as error:
        raise config.explain(error) from None


def from_options(given: Mapping[str, Any]) -> PipelineConfig:
    """The config of the options `given` ({name: typed value}): every other option at its
    default, derived ones derived in declaration order, then validated."""
    values: dict[str, Any] = {}
    for name, option in OPTIONS.items():
        if name in given:
            values[name] = given[name]
        elif option.derived:
            values[name] = option.default.value(values)
        else:
            values[name] = option.default
    config = PipelineConfig(**values, given=frozenset(given))
    validate(config)
    return config


_KINDS = {bool: "a boolean (true/false)", int: "an integer", float: "a number"}


def _parse_value(option: Option, raw: str):
    if raw == "" and option.kind is not str:
        return None
    if option.kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    elif option.kind in (int, float):
        try:
            return option.kind(raw)
        except ValueError:
            pass
    else:
        return raw
    raise option_error(option.name, raw, f"must be {_KINDS[option.kind]}")


def build_arg_parser(description: str = "Run the pruning pipeline.") -> argparse.ArgumentParser:
    """One flag per option, documented with its variable and default."""
    parser = argparse.ArgumentParser(description=description)
    for option in OPTIONS.values():
        parser.add_argument(option.flag, dest=option.name, default=None, metavar=option.env,
                            help=f"{option.help} (env {option.env}; default "
                                 f"{option.default_text})")
    return parser


def given_options(argv: Sequence[str] | None = None,
                  environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """{option: typed value} of what the flags and the environment set (a flag beats its
    variable; an empty variable is unset)."""
    environ = os.environ if environ is None else environ
    flags = vars(build_arg_parser().parse_args(argv if argv is not None else []))
    given = {}
    for name, option in OPTIONS.items():
        raw = flags.get(name)
        if raw is None:
            raw = environ.get(option.env) or None
        if raw is not None:
            value = _parse_value(option, raw)
            if value is not None:
                given[name] = value
    return given


def load_config(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    description: str = "Run the pruning pipeline.",
) -> PipelineConfig:
    """The options from flags, then the environment, then their defaults.

    Raises SettingsError (a ValueError) naming the first bad option.
    """
    if argv and any(arg in ("-h", "--help") for arg in argv):
        build_arg_parser(description).parse_args(argv)  # prints the help, exits
    return from_options(given_options(argv, environ))


def option_error(name: str, value, rule: str) -> SettingsError:
    return OPTIONS[name].error(value, rule)


def option_setting(name: str, value: str, flag: bool = True) -> str:
    """How to set option `name` to `value`: 'STOP_ON_ANOMALIES=false (--stop-on-anomalies
    false)', without the flag when `flag` is False."""
    option = OPTIONS[name]
    setting = f"{option.env}={value}"
    return f"{setting} ({option.flag} {value})" if flag else setting


def option_name(name: str) -> str:
    """'TFDS_MANUAL_DIR (--tfds-manual-dir)'."""
    return f"{OPTIONS[name].env} ({OPTIONS[name].flag})"


STORE_OPTIONS = ("metadata_path", "pipeline_root", "pipeline_name", "dataset",
                 "mlmd_mysql_host", "mlmd_mysql_port", "mlmd_mysql_database", "mlmd_mysql_user")


def default_store(environ: Mapping[str, str] | None = None) -> stores.Store:
    """The store `make run` records into with these variables; only those that decide it
    (STORE_OPTIONS) are read."""
    environ = os.environ if environ is None else environ
    names = {OPTIONS[name].env for name in STORE_OPTIONS}
    return load_config([], environ={k: v for k, v in environ.items() if k in names}
                       ).metadata_store
