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
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path

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
    # multi_threading: one worker thread per core. multi_processing also uses every core, but each
    # worker process pays TensorFlow's ~20 s import: on full MNIST here ExampleGen + StatisticsGen
    # take 80 s that way against 28 s threaded (README, "Beam").
    beam_running_mode: str = _field(
        "multi_threading",
        "BEAM_RUNNING_MODE",
        "Beam DirectRunner mode: multi_threading, multi_processing or in_memory.",
    )
    beam_num_workers: int = _field(
        0, "BEAM_NUM_WORKERS", "Beam DirectRunner workers; 0 means one per CPU core."
    )
    enable_cache: bool = _field(True, "ENABLE_CACHE", "Reuse outputs of unchanged components.")

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
        return [
            "--runner=DirectRunner",
            f"--direct_running_mode={self.beam_running_mode}",
            f"--direct_num_workers={self.beam_num_workers}",
        ]


def _base_type(annotation: str) -> type:
    """bool, int or str for a field annotation such as 'int | None'."""
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
