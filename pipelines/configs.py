"""Every tunable of the pipeline, in one place.

Each field has a default, an environment variable and a command-line flag; a flag beats the
environment, which beats the default. Every runner builds its `PipelineConfig` with
`load_config()`, so no runner repeats the argument list:

    python -m pipelines.local_runner --dataset fashion_mnist --example-limit 1000
    DATASET=fashion_mnist EXAMPLE_LIMIT=1000 make run
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path

from pruning import models
from pruning.clustering import ClusteringParams
from pruning.params import PruningParams
from pruning.training import TrainingParams

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = PROJECT_ROOT / "build"
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"


def _field(default, env: str, help: str):
    return dataclasses.field(default=default, metadata={"env": env, "help": help})


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """The pipeline's tunables. `None` means "derived": see the properties below."""

    pipeline_name: str = _field("mnist_pruning", "PIPELINE_NAME", "TFX pipeline name.")
    pipeline_root: str | None = _field(
        None, "PIPELINE_ROOT", "Where artifacts go; default build/pipelines/<pipeline_name>."
    )
    metadata_path: str | None = _field(
        None, "METADATA_PATH", "SQLite ML Metadata file; default <pipeline_root>/metadata.sqlite."
    )
    dataset: str = _field("mnist", "DATASET", "TFDS dataset: mnist or fashion_mnist.")
    tfds_data_dir: str = _field(
        str(BUILD_DIR / "tensorflow_datasets"), "TFDS_DATA_DIR", "Where TFDS keeps prepared data."
    )
    tfds_manual_dir: str | None = _field(
        None,
        "TFDS_MANUAL_DIR",
        "Directory with the dataset's four original files; default ../shared/data/<dataset> "
        "when it exists.",
    )
    train_split: str = _field("train", "TRAIN_SPLIT", "TFDS split expression for 'train'.")
    eval_split: str = _field("test", "EVAL_SPLIT", "TFDS split expression for 'eval'.")
    hash_buckets: str = _field(
        "",
        "HASH_BUCKETS",
        "Re-split train+eval by example hash, e.g. 'train:9,eval:1'; empty keeps TFDS's splits.",
    )
    example_limit: int | None = _field(
        None, "EXAMPLE_LIMIT", "At most this many examples per split (quick runs)."
    )
    num_shards: int = _field(4, "NUM_SHARDS", "TFRecord files per ExampleGen output split.")
    # in_memory: as fast as multi_threading here (27 s against 28 s for ExampleGen + StatisticsGen
    # on full MNIST) and multi_threading lost records on full MNIST (README, "Beam").
    # multi_processing uses every core, but each worker process pays TensorFlow's ~20 s import.
    beam_running_mode: str = _field(
        "in_memory",
        "BEAM_RUNNING_MODE",
        "Beam DirectRunner mode: multi_threading, multi_processing or in_memory.",
    )
    beam_num_workers: int = _field(
        0, "BEAM_NUM_WORKERS", "Beam DirectRunner workers; 0 means one per CPU core."
    )
    enable_cache: bool = _field(True, "ENABLE_CACHE", "Reuse outputs of unchanged components.")
    beam_args: str = _field(
        "", "BEAM_ARGS", "Beam pipeline args replacing the DirectRunner ones, e.g. for a cluster "
        "'--runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp'."
    )

    # The model (pruning/models.py).
    architecture: str = _field(
        "functional", "ARCHITECTURE", "Model builder: functional or sequential (same layers)."
    )
    model_width: int = _field(32, "MODEL_WIDTH", "Filters of conv1; conv2 has twice as many.")
    dense_units: int = _field(256, "DENSE_UNITS", "Units of the ScaledDense layer dense1.")
    dropout: float = _field(0.3, "DROPOUT", "Dropout rate before the classifier.")
    # Baseline training (Trainer).
    train_epochs: int = _field(5, "TRAIN_EPOCHS", "Baseline training epochs.")
    batch_size: int = _field(256, "BATCH_SIZE", "Batch size of both trainers.")
    learning_rate: float = _field(
        4e-3, "LEARNING_RATE", "Baseline peak learning rate (Adam, warm-up then cosine to 0)."
    )
    warmup_fraction: float = _field(
        0.1, "WARMUP_FRACTION", "Share of each trainer's steps spent warming the rate up."
    )
    augment: bool = _field(True, "AUGMENT", "Random 1-pixel shifts of the training images.")
    seed: int = _field(0, "SEED", "Random seed of both trainers.")
    # Pruning (PruneTrainer): the Keras pruning API's options (pruning/params.py).
    prune_epochs: int = _field(4, "PRUNE_EPOCHS", "PruneTrainer fine-tuning epochs.")
    prune_learning_rate: float = _field(
        2e-3, "PRUNE_LEARNING_RATE", "PruneTrainer peak learning rate."
    )
    prune_loop: str = _field(
        "fit", "PRUNE_LOOP", "fit (model.fit + callbacks) or custom (GradientTape loop)."
    )
    prune_schedule: str = _field(
        "polynomial_decay", "PRUNE_SCHEDULE", "polynomial_decay (PolynomialDecay) or constant "
        "(ConstantSparsity)."
    )
    prune_initial_sparsity: float = _field(
        0.3, "PRUNE_INITIAL_SPARSITY", "PolynomialDecay initial_sparsity."
    )
    prune_final_sparsity: float = _field(
        0.9, "PRUNE_FINAL_SPARSITY", "Target sparsity of every pruned layer not in "
        "PRUNE_LAYER_SPARSITY (ConstantSparsity's target_sparsity)."
    )
    prune_layer_sparsity: str = _field(
        "dense1:0.97,conv3:0.9,conv2:0.85,conv1:0.5,logits:0.7",
        "PRUNE_LAYER_SPARSITY",
        "Per-layer targets, 'name:sparsity,...'; 'none' gives every layer PRUNE_FINAL_SPARSITY.",
    )
    prune_begin_step: int = _field(0, "PRUNE_BEGIN_STEP", "Step at which pruning starts.")
    prune_end_step: int | None = _field(
        None, "PRUNE_END_STEP", "PolynomialDecay end_step; default one epoch before the end."
    )
    prune_frequency: int = _field(50, "PRUNE_FREQUENCY", "Steps between mask updates.")
    prune_layers: str = _field(
        "", "PRUNE_LAYERS", "Prune only these layers, 'conv2,dense1'; with PRUNE_LAYER_TYPES "
        "empty too, the whole model is pruned."
    )
    prune_layer_types: str = _field(
        "", "PRUNE_LAYER_TYPES", "Prune only layers of these types: Conv2D, Dense, ScaledDense."
    )
    prune_block_size: str = _field(
        "1x1", "PRUNE_BLOCK_SIZE", "block_size 'rows x cols' of 2-D kernels, e.g. 1x4."
    )
    prune_block_pooling: str = _field(
        "AVG", "PRUNE_BLOCK_POOLING", "block_pooling_type: AVG or MAX."
    )
    prune_m_by_n: str = _field(
        "", "PRUNE_M_BY_N", "sparsity_m_by_n, e.g. 2:4 (structured; overrides the sparsities)."
    )
    prune_warm_start: bool = _field(
        False, "PRUNE_WARM_START", "Continue the newest PruningCheckpoint of this pipeline "
        "(through a Resolver) instead of starting from the baseline."
    )

    # Clustering (PruneTrainer, after pruning): pruning/clustering.py.
    cluster_count: int = _field(
        8, "CLUSTER_COUNT", "Sparsity-preserving weight clustering of the pruned layers: values "
        "per kernel (zero kept as its own); 0 turns clustering off."
    )
    cluster_epochs: int = _field(1, "CLUSTER_EPOCHS", "Fine-tuning epochs of the clustered model.")
    cluster_learning_rate: float = _field(
        2e-4, "CLUSTER_LEARNING_RATE", "Learning rate (Adam, constant) of that fine-tuning."
    )
    # The gate (Evaluator, TFMA): the pruned model is blessed only if it passes both.
    eval_min_accuracy: float = _field(
        0.98, "EVAL_MIN_ACCURACY", "Lowest pruned-model accuracy on the eval split that blesses."
    )
    eval_max_accuracy_drop: float = _field(
        0.005, "EVAL_MAX_ACCURACY_DROP", "Largest accuracy drop against the baseline that "
        "blesses (0.005 = 0.5 percentage points)."
    )
    # CompressExporter: components/compress_exporter.
    representative_examples: int = _field(
        500, "REPRESENTATIVE_EXAMPLES", "Train examples that calibrate full-integer quantization."
    )
    latency_runs: int = _field(
        500, "LATENCY_RUNS", "TFLite invocations per file whose median is the latency; 0 skips it."
    )
    pqat_epochs: int = _field(
        0, "PQAT_EPOCHS", "Pruning-preserving quantization-aware training epochs for an extra "
        "pruned_pqat_int8.tflite; 0 skips it."
    )
    pqat_learning_rate: float = _field(1e-4, "PQAT_LEARNING_RATE", "Its learning rate (Adam).")
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
        if self.example_limit is not None and self.example_limit < 1:
            raise ValueError(f"example_limit must be >= 1, got {self.example_limit}")
        if self.num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {self.num_shards}")
        if self.beam_num_workers < 0:
            raise ValueError(f"beam_num_workers must be >= 0, got {self.beam_num_workers}")
        if self.beam_running_mode not in ("multi_processing", "multi_threading", "in_memory"):
            raise ValueError(f"Unknown beam_running_mode {self.beam_running_mode!r}")
        _ = self.hash_bucket_map  # Validates the syntax now.
        models.check_model_kwargs(self.model_kwargs)
        _ = self.training_params, self.prune_training_params, self.pruning_params
        _ = self.clustering_params
        if not 0 <= self.eval_min_accuracy <= 1:
            raise ValueError(f"eval_min_accuracy must be in [0, 1], got {self.eval_min_accuracy}")
        if not 0 <= self.eval_max_accuracy_drop <= 1:
            raise ValueError(
                f"eval_max_accuracy_drop must be in [0, 1], got {self.eval_max_accuracy_drop}"
            )
        if self.representative_examples < 1:
            raise ValueError(
                f"representative_examples must be >= 1, got {self.representative_examples}"
            )
        if self.latency_runs < 0:
            raise ValueError(f"latency_runs must be >= 0, got {self.latency_runs}")
        if self.pqat_epochs < 0:
            raise ValueError(f"pqat_epochs must be >= 0, got {self.pqat_epochs}")

    @property
    def model_kwargs(self) -> dict:
        return {
            "architecture": self.architecture,
            "width": self.model_width,
            "dense_units": self.dense_units,
            "dropout": self.dropout,
        }

    @property
    def training_params(self) -> TrainingParams:
        return TrainingParams(
            epochs=self.train_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            warmup_fraction=self.warmup_fraction,
            augment=self.augment,
            seed=self.seed,
        )

    @property
    def prune_training_params(self) -> TrainingParams:
        return dataclasses.replace(
            self.training_params,
            epochs=self.prune_epochs,
            learning_rate=self.prune_learning_rate,
            loop=self.prune_loop,
        )

    @property
    def pruning_params(self) -> PruningParams:
        return PruningParams(
            schedule=self.prune_schedule,
            initial_sparsity=self.prune_initial_sparsity,
            final_sparsity=self.prune_final_sparsity,
            begin_step=self.prune_begin_step,
            end_step=self.prune_end_step,
            frequency=self.prune_frequency,
            block_size=_pair(self.prune_block_size, "x", "PRUNE_BLOCK_SIZE"),
            block_pooling_type=self.prune_block_pooling,
            sparsity_m_by_n=(
                _pair(self.prune_m_by_n, ":", "PRUNE_M_BY_N") if self.prune_m_by_n else None
            ),
            layer_names=_names(self.prune_layers),
            layer_types=_names(self.prune_layer_types),
            layer_sparsity=() if self.prune_m_by_n else _layer_sparsity(self.prune_layer_sparsity),
        )

    @property
    def clustering_params(self) -> ClusteringParams:
        return ClusteringParams(
            clusters=self.cluster_count,
            epochs=self.cluster_epochs,
            learning_rate=self.cluster_learning_rate,
        )

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
    def resolved_manual_dir(self) -> str | None:
        if self.tfds_manual_dir:
            return self.tfds_manual_dir
        shared = SHARED_DATA_DIR / self.dataset.split(":", 1)[0]
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
                raise ValueError(
                    f"hash_buckets item {item!r} must look like 'name:count' ('train:9,eval:1')"
                )
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


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _pair(text: str, separator: str, variable: str) -> tuple[int, int]:
    parts = text.replace(" ", "").split(separator)
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ValueError(f"{variable}={text!r} must look like 'a{separator}b' with integers a, b")
    return int(parts[0]), int(parts[1])


def _layer_sparsity(text: str) -> tuple[tuple[str, float], ...]:
    if text.strip().lower() == "none":
        return ()
    pairs = []
    for item in _names(text):
        name, _, value = item.partition(":")
        try:
            pairs.append((name.strip(), float(value)))
        except ValueError:
            raise ValueError(
                f"PRUNE_LAYER_SPARSITY item {item!r} must look like 'layer:sparsity' "
                "('dense1:0.98')"
            ) from None
    return tuple(pairs)


def _base_type(annotation: str) -> type:
    """bool, int, float or str for a field annotation such as 'int | None'."""
    hint = typing.get_type_hints(PipelineConfig)[annotation]
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _parse_value(name: str, raw: str, source: str):
    kind = _base_type(name)
    if raw == "" and kind is not str:
        return None
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{source}={raw!r} is not a boolean (true/false)")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{source}={raw!r} is not an integer") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{source}={raw!r} is not a number") from None
    return raw


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
    """Defaults, overridden by the environment, overridden by flags. Empty variables are unset."""
    environ = os.environ if environ is None else environ
    flags = vars(build_arg_parser(description).parse_args(argv if argv is not None else []))
    values = {}
    for field in dataclasses.fields(PipelineConfig):
        env = field.metadata["env"]
        if flags.get(field.name) is not None:
            values[field.name] = _parse_value(field.name, flags[field.name], flag_name(field))
        elif environ.get(env):
            values[field.name] = _parse_value(field.name, environ[env], env)
    return PipelineConfig(**values)
