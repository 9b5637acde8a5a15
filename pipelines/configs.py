"""Every tunable of the pipeline, in one place, checked before TensorFlow is imported.

Each field has a default, an environment variable and a command-line flag; a flag beats the
environment, which beats the default. Every runner builds its `PipelineConfig` with
`load_config()`, so no runner repeats the argument list:

    python -m pipelines.local_runner --dataset fashion_mnist --example-limit 1000
    DATASET=fashion_mnist EXAMPLE_LIMIT=1000 make run

This module and the library's parameter objects it builds (`pruning.params`) import no
TensorFlow, so a bad option fails in well under a second with one line (`SettingsError`) naming
the variable and flag, the value and what is allowed.
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

from components import splits
from components.splits import DEFAULT_NUM_SHARDS, DEFAULT_SPLITS
from pipelines import stores
from pruning import architecture
from pruning.architecture import (
    DEFAULT_LAYER_SPARSITY,
    NARROW_FILTER_SPARSITY,
    NARROW_LAYER_SPARSITY,
)
from pruning.params import (
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


# The library's defaults are the pipeline's: each field below takes its default from these.
_MODEL, _TRAINING, _PRUNING = ModelParams(), TrainingParams(), PruningParams()
_FILTERS = FilterParams()
_CLUSTERING, _COMPRESSION = ClusteringParams(), CompressionParams()


def _field(default, env: str, help: str):
    return dataclasses.field(default=default, metadata={"env": env, "help": help})


def _pairs_text(pairs) -> str:
    """(("conv1", 0.5), ...) as an option's text: 'conv1:0.5,...'."""
    return ",".join(f"{name}:{value}" for name, value in pairs)


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """The pipeline's tunables. `None` means "derived": see the properties below."""

    pipeline_name: str | None = _field(
        None, "PIPELINE_NAME", "TFX pipeline name; default <dataset>_pruning (mnist_pruning)."
    )
    pipeline_root: str | None = _field(
        None, "PIPELINE_ROOT", "Where artifacts go; default build/pipelines/<pipeline_name>."
    )
    metadata_path: str | None = _field(
        None, "METADATA_PATH", "SQLite ML Metadata file; default <pipeline_root>/metadata.sqlite."
    )
    # A shared store instead (pipelines/stores.py); the password only from MLMD_MYSQL_PASSWORD.
    mlmd_mysql_host: str | None = _field(
        None, "MLMD_MYSQL_HOST",
        "MySQL or MariaDB server to record ML Metadata in instead of the SQLite file; password "
        f"from ${stores.MYSQL_PASSWORD_ENV}."
    )
    mlmd_mysql_port: int = _field(stores.MYSQL_DEFAULT_PORT, "MLMD_MYSQL_PORT",
                                  "Its port.")
    mlmd_mysql_database: str = _field(
        stores.MYSQL_DEFAULT_DATABASE, "MLMD_MYSQL_DATABASE",
        "Its database (it must exist; ML Metadata creates its tables)."
    )
    mlmd_mysql_user: str = _field(stores.MYSQL_DEFAULT_USER, "MLMD_MYSQL_USER", "Its user.")
    dataset: str = _field(
        "mnist", "DATASET", "TFDS dataset: mnist or fashion_mnist, optionally name:version."
    )
    tfds_data_dir: str | None = _field(
        None, "TFDS_DATA_DIR", "Where TFDS keeps prepared data; default build/tensorflow_datasets."
    )
    tfds_manual_dir: str | None = _field(
        None,
        "TFDS_MANUAL_DIR",
        "Directory with the dataset's four original files; default ../shared/data/<dataset> "
        "when it exists.",
    )
    train_split: str = _field(DEFAULT_SPLITS["train"], "TRAIN_SPLIT",
                              "TFDS split expression for 'train'.")
    eval_split: str = _field(DEFAULT_SPLITS["eval"], "EVAL_SPLIT",
                             "TFDS split expression for 'eval'.")
    hash_buckets: str = _field(
        "",
        "HASH_BUCKETS",
        "Re-split train+eval by example hash, e.g. 'train:9,eval:1'; empty keeps TFDS's splits.",
    )
    example_limit: int | None = _field(
        None, "EXAMPLE_LIMIT", "At most this many examples per split (quick runs)."
    )
    num_shards: int = _field(DEFAULT_NUM_SHARDS, "NUM_SHARDS",
                             "TFRecord files per ExampleGen output split.")
    # in_memory: as fast as multi_threading here, which lost records on full MNIST; and
    # multi_processing starts a worker per core, each paying TensorFlow's import (README, "Beam").
    beam_running_mode: str = _field(
        "in_memory",
        "BEAM_RUNNING_MODE",
        "Beam DirectRunner mode: multi_threading, multi_processing or in_memory.",
    )
    beam_num_workers: int = _field(
        0, "BEAM_NUM_WORKERS", "Beam DirectRunner workers; 0 means one per CPU core."
    )
    enable_cache: bool = _field(True, "ENABLE_CACHE", "Reuse outputs of unchanged components.")
    stop_on_anomalies: bool = _field(
        True, "STOP_ON_ANOMALIES", "Fail the Trainer, before it reads an example, when the "
        "ExampleValidator found anomalies; false trains anyway (the anomalies are logged)."
    )
    beam_args: str = _field(
        "", "BEAM_ARGS", "Beam pipeline args replacing the DirectRunner ones, e.g. for a cluster "
        "'--runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp'."
    )

    # The model (pruning/architecture.py, pruning/model/cnn.py).
    architecture: str = _field(
        _MODEL.architecture, "ARCHITECTURE",
        "Model builder: functional or sequential (same layers)."
    )
    model_width: int = _field(_MODEL.width, "MODEL_WIDTH",
                              "Filters of conv1; conv2 has twice as many.")
    dense_units: int = _field(_MODEL.dense_units, "DENSE_UNITS",
                              "Units of the ScaledDense layer dense1.")
    dropout: float = _field(_MODEL.dropout, "DROPOUT", "Dropout rate before the classifier.")
    # Baseline training (Trainer).
    train_epochs: int = _field(_TRAINING.epochs, "TRAIN_EPOCHS", "Baseline training epochs.")
    batch_size: int = _field(_TRAINING.batch_size, "BATCH_SIZE", "Batch size of both trainers.")
    learning_rate: float = _field(
        _TRAINING.learning_rate, "LEARNING_RATE",
        "Baseline peak learning rate (Adam, warm-up then cosine to 0)."
    )
    warmup_fraction: float = _field(
        _TRAINING.warmup_fraction, "WARMUP_FRACTION",
        "Share of each trainer's steps spent warming the rate up."
    )
    augment: bool = _field(_TRAINING.augment, "AUGMENT",
                           "Random 1-pixel shifts of the training images.")
    seed: int = _field(_TRAINING.seed, "SEED", "Random seed of both trainers.")
    # Structured pruning (PruneTrainer, first): whole filters and units, then a narrower model
    # (pruning/sparsity/filters.py).
    prune_filter_sparsity: str = _field(
        _pairs_text(NARROW_FILTER_SPARSITY), "PRUNE_FILTER_SPARSITY",
        "Structured pruning: the fraction of filters (conv1, conv2, conv3) or units (dense1) each "
        "layer loses, 'name:fraction,...'; the model is then rebuilt without them. 'none' keeps "
        "the baseline's shape (weight pruning only)."
    )
    prune_filter_epochs: int = _field(
        _FILTERS.epochs, "PRUNE_FILTER_EPOCHS",
        "Fine-tuning epochs of the full-width model while its filters are removed."
    )
    prune_filter_learning_rate: float = _field(
        _FILTERS.learning_rate, "PRUNE_FILTER_LEARNING_RATE", "Their peak learning rate."
    )
    prune_teacher_weight: float = _field(
        _FILTERS.teacher_weight, "PRUNE_TEACHER_WEIGHT",
        "With structured pruning: the share of the baseline's predicted probabilities in the "
        "targets of every later fine-tuning (distillation); 0 = the labels alone."
    )
    # Pruning (PruneTrainer): the Keras pruning API's options (pruning/params.py).
    prune_epochs: int | None = _field(
        None, "PRUNE_EPOCHS",
        f"PruneTrainer fine-tuning epochs. Default {PRUNE_TRAINING.epochs}, or "
        f"{NARROW_PRUNE_EPOCHS} after structured pruning.")
    prune_learning_rate: float = _field(
        PRUNE_TRAINING.learning_rate, "PRUNE_LEARNING_RATE", "PruneTrainer peak learning rate."
    )
    prune_loop: str = _field(
        _PRUNING.loop, "PRUNE_LOOP", "fit (model.fit + callbacks) or custom (GradientTape loop)."
    )
    prune_schedule: str = _field(
        _PRUNING.schedule, "PRUNE_SCHEDULE", "polynomial_decay (PolynomialDecay) or constant "
        "(ConstantSparsity)."
    )
    prune_initial_sparsity: float = _field(
        _PRUNING.initial_sparsity, "PRUNE_INITIAL_SPARSITY", "PolynomialDecay initial_sparsity."
    )
    prune_final_sparsity: float = _field(
        _PRUNING.final_sparsity, "PRUNE_FINAL_SPARSITY", "Target sparsity of every pruned layer "
        "not in PRUNE_LAYER_SPARSITY (ConstantSparsity's target_sparsity)."
    )
    prune_layer_sparsity: str | None = _field(
        None, "PRUNE_LAYER_SPARSITY",
        "Per-layer targets, 'name:sparsity,...'; 'none' gives every layer PRUNE_FINAL_SPARSITY. "
        f"Default {_pairs_text(NARROW_LAYER_SPARSITY)} after structured pruning, else "
        f"{_pairs_text(DEFAULT_LAYER_SPARSITY)}.",
    )
    prune_begin_step: int = _field(_PRUNING.begin_step, "PRUNE_BEGIN_STEP",
                                   "Step at which pruning starts.")
    prune_end_step: int | None = _field(
        _PRUNING.end_step, "PRUNE_END_STEP", "PolynomialDecay end_step; default one epoch before "
        "the end."
    )
    prune_frequency: int = _field(_PRUNING.frequency, "PRUNE_FREQUENCY",
                                  "Steps between mask updates (weights and filters).")
    prune_layers: str = _field(
        "", "PRUNE_LAYERS", "Prune only these layers, 'conv2,dense1'; with PRUNE_LAYER_TYPES "
        "empty too, the whole model is pruned."
    )
    prune_layer_types: str = _field(
        "", "PRUNE_LAYER_TYPES", "Prune only layers of these types: Conv2D, Dense, ScaledDense."
    )
    prune_block_size: str = _field(
        "x".join(map(str, _PRUNING.block_size)), "PRUNE_BLOCK_SIZE",
        "block_size 'rows x cols' of 2-D kernels, e.g. 1x4."
    )
    prune_block_pooling: str = _field(
        _PRUNING.block_pooling_type, "PRUNE_BLOCK_POOLING", "block_pooling_type: AVG or MAX."
    )
    prune_m_by_n: str = _field(
        "", "PRUNE_M_BY_N", "sparsity_m_by_n, e.g. 2:4 (structured; overrides the sparsities)."
    )
    prune_warm_start: bool = _field(
        False, "PRUNE_WARM_START", "Continue the newest PruningCheckpoint of this pipeline "
        "(through a Resolver) instead of starting from the baseline; with structured pruning, "
        "that checkpoint's narrowed model (the same PRUNE_FILTER_SPARSITY) is continued and no "
        "filters are removed again."
    )

    # Clustering (PruneTrainer, after pruning): pruning/sparsity/clustering.py.
    cluster_count: int | None = _field(
        None, "CLUSTER_COUNT", "Sparsity-preserving weight clustering of the pruned layers: "
        f"values per kernel (zero kept as its own), default {_CLUSTERING.clusters}, or "
        f"{NARROW_CLUSTERS} after structured pruning; 0 turns clustering off."
    )
    cluster_epochs: int = _field(_CLUSTERING.epochs, "CLUSTER_EPOCHS",
                                 "Fine-tuning epochs of the clustered model.")
    cluster_learning_rate: float = _field(
        _CLUSTERING.learning_rate, "CLUSTER_LEARNING_RATE",
        "Learning rate (Adam, constant) of that fine-tuning."
    )
    # The gate (Evaluator, TFMA): the pruned model is blessed only if it passes both.
    eval_min_accuracy: float | None = _field(
        None, "EVAL_MIN_ACCURACY", "Lowest pruned-model accuracy on the eval split that blesses; "
        "default per dataset: mnist 0.98, fashion_mnist 0.88."
    )
    eval_max_accuracy_drop: float | None = _field(
        None, "EVAL_MAX_ACCURACY_DROP", "Largest accuracy drop against the baseline that "
        "blesses (0.005 = 0.5 percentage points); default per dataset: mnist 0.005, "
        "fashion_mnist 0.015."
    )
    # CompressExporter: components/compress_exporter.
    representative_examples: int = _field(
        _COMPRESSION.representative_examples, "REPRESENTATIVE_EXAMPLES",
        "Train examples that calibrate full-integer quantization."
    )
    latency_runs: int = _field(
        _COMPRESSION.latency_runs, "LATENCY_RUNS",
        "TFLite invocations per file whose median is the latency; 0 skips it."
    )
    pqat_epochs: int = _field(
        _COMPRESSION.pqat_epochs, "PQAT_EPOCHS", "Pruning-preserving quantization-aware "
        "training epochs for an extra pruned_pqat_int8.tflite; 0 skips it."
    )
    pqat_learning_rate: float = _field(_COMPRESSION.pqat_learning_rate, "PQAT_LEARNING_RATE",
                                       "Its learning rate (Adam).")
    # Pusher.
    serving_model_dir: str | None = _field(
        None, "SERVING_MODEL_DIR", "Where blessed models are pushed; default "
        "build/serving/<pipeline_name>."
    )
    # Kubeflow Pipelines (kubeflow/runner.py).
    kfp_image: str = _field(
        "ghcr.io/example/tfx-pruning-pipeline:latest", "KFP_IMAGE",
        "Container image every step of the compiled Kubeflow pipeline runs in "
        "(kubeflow/Dockerfile)."
    )

    def __post_init__(self) -> None:
        if self.pipeline_name is None:  # each dataset its own root, store and serving dir
            object.__setattr__(self, "pipeline_name", f"{self.dataset_name}_pruning")
        if self.dataset_name not in DATASET_GATES:
            raise option_error("dataset", self.dataset,
                               f"must be one of {', '.join(DATASET_GATES)} (optionally "
                               "with :version): the model reads 28x28 grayscale images of 10 "
                               "classes")
        _check(self, self.example_limit is None or self.example_limit >= 1, "example_limit",
               "must be an integer >= 1")
        _check(self, self.num_shards >= 1, "num_shards", "must be an integer >= 1")
        _check(self, 1 <= self.mlmd_mysql_port <= 65535, "mlmd_mysql_port",
               "must be a TCP port, 1-65535")
        _check(self, self.beam_num_workers >= 0, "beam_num_workers", "must be an integer >= 0")
        _check(self, self.beam_running_mode in BEAM_RUNNING_MODES, "beam_running_mode",
               f"must be one of {', '.join(BEAM_RUNNING_MODES)}")
        _check(self, _PIPELINE_NAME.match(self.pipeline_name) is not None, "pipeline_name",
               "must be letters, digits, '_', '-' or '.', starting with a letter or digit, at "
               "most 63 characters (TFX's limit): it names directories and the ML Metadata "
               "context")
        _check(self, _DATASET.match(self.dataset) is not None, "dataset",
               "must be a TFDS name, optionally with ':<major>.<minor>.<patch>' "
               "('fashion_mnist:3.0.1')")
        for name in ("train_split", "eval_split"):
            try:
                names = splits.split_names(getattr(self, name))
            except ValueError as error:
                raise option_error(name, getattr(self, name), str(error)) from None
            unknown = [n for n in names if n not in TFDS_SPLITS]
            _check(self, not unknown, name,
                   f"{self.dataset_name} has no split {', '.join(unknown)}; its splits: "
                   f"{', '.join(TFDS_SPLITS)}")
        buckets = self.hash_bucket_map  # parses the syntax
        if buckets:
            try:
                splits.check_hash_buckets(buckets)
            except ValueError as error:
                raise option_error("hash_buckets", self.hash_buckets, str(error)) from None
        try:
            _ = self.beam_pipeline_args
        except ValueError as error:  # shlex: an unclosed quote
            raise option_error("beam_args", self.beam_args,
                               f"must split like a shell command line: {error}") from None
        # Building each parameter object validates it (pruning/params.py), and the pruning
        # options are checked against the model's layers (pruning/architecture.py).
        _ = self.training_params, self.prune_training_params, self.clustering_params
        _ = self.compression_params, self.gate_params
        model = self.model_params
        name = architecture.model_name(model)
        try:
            kept = architecture.kept_channels(model, self.filter_params, name)
        except InvalidParam as error:
            raise self.explain(error, _FILTER_OPTIONS) from None
        try:  # weight pruning applies to the model structured pruning leaves
            architecture.select_layers(
                architecture.prunable_layers(architecture.narrowed(model, kept)),
                self.pruning_params, name)
        except InvalidParam as error:
            raise self.explain(error) from None

    @property
    def dataset_name(self) -> str:
        """The TFDS name without a version: `fashion_mnist` of `fashion_mnist:3.0.1`."""
        return self.dataset.split(":", 1)[0]

    @property
    def gate_params(self) -> GateParams:
        """The gate's thresholds: those set, else the dataset's defaults."""
        default = DATASET_GATES[self.dataset_name]
        given = {"min_accuracy": self.eval_min_accuracy,
                 "max_accuracy_drop": self.eval_max_accuracy_drop}
        parsed = {param: getattr(default, param) if value is None else value
                  for param, value in given.items()}
        return self._build(GateParams, _GATE_OPTIONS, parsed)

    @property
    def model_params(self) -> ModelParams:
        return self._build(ModelParams, _MODEL_OPTIONS)

    @property
    def training_params(self) -> TrainingParams:
        return self._build(TrainingParams, _TRAINING_OPTIONS)

    @property
    def prune_training_params(self) -> TrainingParams:
        epochs = self._or_default(self.prune_epochs, NARROW_PRUNE_EPOCHS, PRUNE_TRAINING.epochs)
        return self._build(TrainingParams, _PRUNE_TRAINING_OPTIONS, {"epochs": epochs})

    @property
    def filter_params(self) -> FilterParams:
        parsed = {"layer_sparsity": _layer_sparsity(self.prune_filter_sparsity,
                                                    "prune_filter_sparsity",
                                                    "'layer:fraction' ('conv2:0.5')")}
        return self._build(FilterParams, _FILTER_OPTIONS, parsed)

    @property
    def pruning_params(self) -> PruningParams:
        layer_sparsity = self._or_default(self.prune_layer_sparsity,
                                          _pairs_text(NARROW_LAYER_SPARSITY),
                                          _pairs_text(DEFAULT_LAYER_SPARSITY))
        parsed = {
            "block_size": _pair(self.prune_block_size, "x", "prune_block_size"),
            "sparsity_m_by_n": (_pair(self.prune_m_by_n, ":", "prune_m_by_n")
                                if self.prune_m_by_n else None),
            "layer_names": comma_list(self.prune_layers),
            "layer_types": comma_list(self.prune_layer_types),
            "layer_sparsity": () if self.prune_m_by_n else _layer_sparsity(
                layer_sparsity, "prune_layer_sparsity", "'layer:sparsity' ('dense1:0.98')"),
        }
        return self._build(PruningParams, _PRUNING_OPTIONS, parsed)

    @property
    def clustering_params(self) -> ClusteringParams:
        clusters = self._or_default(self.cluster_count, NARROW_CLUSTERS, _CLUSTERING.clusters)
        return self._build(ClusteringParams, _CLUSTERING_OPTIONS, {"clusters": clusters})

    @property
    def compression_params(self) -> CompressionParams:
        return self._build(CompressionParams, _COMPRESSION_OPTIONS)

    def _or_default(self, value, narrowed, full_width):
        """An option left unset (None) takes the narrowed model's default after structured
        pruning, the full-width model's without it."""
        if value is not None:
            return value
        return narrowed if self.filter_params.enabled else full_width

    def _build(self, cls, options: Mapping[str, str], parsed: Mapping | None = None):
        """`cls` from the options named in `options` ({parameter: field}), `parsed` replacing
        the raw text of some; a bad value raises the SettingsError naming its option."""
        values = {param: getattr(self, option) for param, option in options.items()}
        values.update(parsed or {})
        try:
            return cls(**values)
        except InvalidParam as error:
            raise self.explain(error, options) from None

    def explain(self, error: InvalidParam,
                options: Mapping[str, str] | None = None) -> SettingsError:
        """The option behind a library parameter's error; `options` default: the pruning
        options (the ones checked again against the built model, e.g. layer names)."""
        option = (options or _PRUNING_OPTIONS).get(error.param)
        if option is None:
            return SettingsError(str(error))
        return option_error(option, getattr(self, option), error.rule)

    @property
    def resolved_serving_model_dir(self) -> str:
        return self.serving_model_dir or str(BUILD_DIR / "serving" / self.pipeline_name)

    @property
    def resolved_pipeline_root(self) -> str:
        return self.pipeline_root or str(BUILD_DIR / "pipelines" / self.pipeline_name)

    @property
    def resolved_metadata_path(self) -> str:
        return self.metadata_path or os.path.join(self.resolved_pipeline_root, "metadata.sqlite")

    @property
    def metadata_store(self) -> stores.Store:
        """The MySQL server when MLMD_MYSQL_HOST is set, else the SQLite file."""
        if self.mlmd_mysql_host:
            return stores.MySQLStore(self.mlmd_mysql_host, self.mlmd_mysql_port,
                                     self.mlmd_mysql_database, self.mlmd_mysql_user)
        return stores.SqliteStore(self.resolved_metadata_path)

    @property
    def resolved_tfds_data_dir(self) -> str:
        return self.tfds_data_dir or str(BUILD_DIR / "tensorflow_datasets")

    @property
    def resolved_manual_dir(self) -> str | None:
        if self.tfds_manual_dir:
            return self.tfds_manual_dir
        shared = SHARED_DATA_DIR / self.dataset_name
        return str(shared) if shared.is_dir() else None

    @property
    def splits(self) -> dict[str, str]:
        return {"train": self.train_split, "eval": self.eval_split}

    @property
    def hash_bucket_map(self) -> dict[str, int] | None:
        if not self.hash_buckets.strip():
            return None
        buckets = {}
        for item in self.hash_buckets.split(","):
            name, sep, count = item.partition(":")
            if not sep or not count.strip().isdigit():
                raise option_error("hash_buckets", self.hash_buckets,
                                   f"item {item.strip()!r} must look like 'name:count' "
                                   "('train:9,eval:1')")
            buckets[name.strip()] = int(count)
        return buckets

    @property
    def beam_pipeline_args(self) -> list[str]:
        if self.beam_args.strip():
            return shlex.split(self.beam_args)
        return [
            "--runner=DirectRunner",
            f"--direct_running_mode={self.beam_running_mode}",
            f"--direct_num_workers={self.beam_num_workers}",
        ]


# The gate's defaults per supported dataset: (lowest accuracy, largest drop against the baseline).
# Fashion-MNIST is harder and pruning costs it more, so its floor is lower and its drop limit
# wider (README, "Datasets", has the figures behind them).
DATASET_GATES = {"mnist": GateParams(),
                 "fashion_mnist": GateParams(min_accuracy=0.88, max_accuracy_drop=0.015)}
# The TFDS splits both supported datasets have.
TFDS_SPLITS = ("train", "test")
BEAM_RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")

# {library parameter: option} for each parameter object the options build.
_MODEL_OPTIONS = {"architecture": "architecture", "width": "model_width",
                  "dense_units": "dense_units", "dropout": "dropout"}
_TRAINING_OPTIONS = {"epochs": "train_epochs", "batch_size": "batch_size",
                     "learning_rate": "learning_rate", "warmup_fraction": "warmup_fraction",
                     "augment": "augment", "seed": "seed"}
_PRUNE_TRAINING_OPTIONS = {**_TRAINING_OPTIONS, "epochs": "prune_epochs",
                           "learning_rate": "prune_learning_rate"}
_PRUNING_OPTIONS = {
    "schedule": "prune_schedule", "initial_sparsity": "prune_initial_sparsity",
    "final_sparsity": "prune_final_sparsity", "begin_step": "prune_begin_step",
    "end_step": "prune_end_step", "frequency": "prune_frequency",
    "block_size": "prune_block_size", "block_pooling_type": "prune_block_pooling",
    "sparsity_m_by_n": "prune_m_by_n", "layer_names": "prune_layers",
    "layer_types": "prune_layer_types", "layer_sparsity": "prune_layer_sparsity",
    "loop": "prune_loop",
}
_FILTER_OPTIONS = {"layer_sparsity": "prune_filter_sparsity", "epochs": "prune_filter_epochs",
                   "learning_rate": "prune_filter_learning_rate", "frequency": "prune_frequency",
                   "teacher_weight": "prune_teacher_weight"}
_CLUSTERING_OPTIONS = {"clusters": "cluster_count", "epochs": "cluster_epochs",
                       "learning_rate": "cluster_learning_rate"}
_COMPRESSION_OPTIONS = {name: name for name in ("representative_examples", "latency_runs",
                                                "pqat_epochs", "pqat_learning_rate")}
_GATE_OPTIONS = {"min_accuracy": "eval_min_accuracy",
                 "max_accuracy_drop": "eval_max_accuracy_drop"}


_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_DATASET = re.compile(r"^[a-z0-9_]+(:\d+\.\d+\.\d+)?$")


class SettingsError(ValueError):
    """A bad option, said in one line: its variable and flag, its value and what is allowed."""


def option_error(name: str, value, rule: str) -> SettingsError:
    field = _FIELDS[name]
    shown = "(unset)" if value is None or value == "" else value
    return SettingsError(f"{field.metadata['env']}={shown} ({flag_name(field)}): {rule}")


def _check(config: PipelineConfig, condition: bool, name: str, rule: str) -> None:
    if not condition:
        raise option_error(name, getattr(config, name), rule)


def comma_list(text: str) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c'): the items of an option that lists names."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _pair(text: str, separator: str, option: str) -> tuple[int, int]:
    parts = text.replace(" ", "").split(separator)
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise option_error(option, text, f"must look like 'a{separator}b' with integers a, b")
    return int(parts[0]), int(parts[1])


def _layer_sparsity(text: str, option: str, form: str) -> tuple[tuple[str, float], ...]:
    """'name:fraction,...' as pairs; 'none' as ()."""
    if text.strip().lower() == "none":
        return ()
    pairs = []
    for item in comma_list(text):
        name, _, value = item.partition(":")
        try:
            pairs.append((name.strip(), float(value)))
        except ValueError:
            raise option_error(option, text,
                               f"item {item!r} must look like {form}, or the whole value "
                               "'none'") from None
    return tuple(pairs)


_FIELDS = {field.name: field for field in dataclasses.fields(PipelineConfig)}
_KINDS = {bool: "a boolean (true/false)", int: "an integer", float: "a number"}


def _base_type(name: str) -> type:
    """bool, int, float or str for a field annotation such as 'int | None'."""
    hint = typing.get_type_hints(PipelineConfig)[name]
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _parse_value(name: str, raw: str):
    kind = _base_type(name)
    if raw == "" and kind is not str:
        return None
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    elif kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    else:
        return raw
    raise option_error(name, raw, f"must be {_KINDS[kind]}")


def flag_name(field: dataclasses.Field) -> str:
    return "--" + field.name.replace("_", "-")


def build_arg_parser(description: str = "Run the pruning pipeline.") -> argparse.ArgumentParser:
    """One flag per config field, documented with its environment variable and default."""
    parser = argparse.ArgumentParser(description=description)
    for field in dataclasses.fields(PipelineConfig):
        parser.add_argument(
            flag_name(field),
            dest=field.name,
            default=None,
            metavar=field.metadata["env"],
            help=f"{field.metadata['help']} (env {field.metadata['env']}; default {field.default})",
        )
    return parser


def load_config(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    description: str = "Run the pruning pipeline.",
) -> PipelineConfig:
    """Defaults, overridden by the environment, overridden by flags. Empty variables are unset.

    Raises SettingsError (a ValueError) naming the first bad option.
    """
    environ = os.environ if environ is None else environ
    flags = vars(build_arg_parser(description).parse_args(argv if argv is not None else []))
    values = {}
    for field in dataclasses.fields(PipelineConfig):
        raw = flags.get(field.name)
        if raw is None:
            raw = environ.get(field.metadata["env"]) or None
        if raw is not None:
            values[field.name] = _parse_value(field.name, raw)
    return PipelineConfig(**values)


def option_field(name: str) -> dataclasses.Field:
    """The field of option `name` (its metadata holds the variable and help)."""
    return _FIELDS[name]


def option_setting(name: str, value: str, flag: bool = True) -> str:
    """How to set option `name` to `value`: 'STOP_ON_ANOMALIES=false (--stop-on-anomalies
    false)', without the flag when `flag` is False."""
    field = _FIELDS[name]
    setting = f"{field.metadata['env']}={value}"
    return f"{setting} ({flag_name(field)} {value})" if flag else setting


STORE_OPTIONS = ("metadata_path", "pipeline_root", "pipeline_name", "dataset",
                 "mlmd_mysql_host", "mlmd_mysql_port", "mlmd_mysql_database", "mlmd_mysql_user")


def default_store(environ: Mapping[str, str] | None = None) -> stores.Store:
    """The store `make run` records into with these variables; only those that decide it
    (STORE_OPTIONS) are read."""
    environ = os.environ if environ is None else environ
    names = {_FIELDS[name].metadata["env"] for name in STORE_OPTIONS}
    return load_config([], environ={k: v for k, v in environ.items() if k in names}
                       ).metadata_store


def explicitly_set(name: str, argv: Sequence[str] | None = None,
                   environ: Mapping[str, str] | None = None) -> bool:
    """Whether the user set option `name` (by its flag or a non-empty variable)."""
    environ = os.environ if environ is None else environ
    flags = vars(build_arg_parser().parse_args(argv if argv is not None else []))
    return flags.get(name) is not None or bool(environ.get(_FIELDS[name].metadata["env"]))
