"""TfdsExampleGen: a TFDS dataset as a standard TFX `Examples` artifact.

Built on TFX's query-based ExampleGen machinery (spec, `QueryBasedDriver` extended with an input
fingerprint, and `BaseExampleGenExecutor`): each input split's `pattern` is a TFDS split
expression such as `train`, `test[:10%]` or `train+test`, and the output is gzipped TFRecord files
of tf.Example that StatisticsGen, SchemaGen, ExampleValidator, Trainer and Evaluator read
unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow_datasets as tfds
from tfx.components.example_gen.component import QueryBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.splits import (
    DEFAULT_NUM_SHARDS,
    DEFAULT_SPLITS,
    check_hash_buckets,
    check_output_split,
    split_names,
)
from components.tfds_example_gen import driver, executor
from components.tfds_example_gen.spec import (
    DATA_DIR_KEY,
    DATASET_KEY,
    EXAMPLE_LIMIT_KEY,
    MANUAL_DIR_KEY,
    NUM_SHARDS_KEY,
    TfdsExampleGenSpec,
)


def make_split_configs(
    splits: Mapping[str, str], hash_buckets: Mapping[str, int] | None = None
) -> tuple[example_gen_pb2.Input, example_gen_pb2.Output]:
    """Input/Output configs from {output split: TFDS split expression} (and optional buckets).

    Without `hash_buckets` every output split reads its own TFDS split. With them, the TFDS
    splits are read as one (`train+test`) and re-split by example hash, e.g.
    {"train": 9, "eval": 1}.
    """
    if not splits:
        raise ValueError("splits must name at least one output split, got {}")
    for name, expression in splits.items():
        check_output_split(name)
        split_names(expression)
    if not hash_buckets:
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=n, pattern=p) for n, p in splits.items()]
        )
        return input_config, example_gen_pb2.Output()
    check_hash_buckets(hash_buckets)
    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="all", pattern="+".join(splits.values()))]
    )
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=b)
                for n, b in hash_buckets.items()
            ]
        )
    )
    return input_config, output_config


def check_dataset_name(dataset: str) -> None:
    """Raises ValueError unless TFDS knows `dataset` (optionally with `:version`)."""
    try:
        tfds.builder_cls(dataset.split(":", 1)[0])
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"Unknown TFDS dataset {dataset!r}: {error}") from None


class TfdsExampleGen(QueryBasedExampleGen):
    """Reads a TFDS dataset (default MNIST) into train/eval `Examples`, offline-first.

    Features: `image` (int64 list of the 28*28 uint8 pixels, row-major) and `label` (int64).
    """

    SPEC_CLASS = TfdsExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.Driver

    def __init__(
        self,
        dataset: str = "mnist",
        data_dir: str | None = None,
        manual_dir: str | None = None,
        splits: Mapping[str, str] = DEFAULT_SPLITS,
        hash_buckets: Mapping[str, int] | None = None,
        example_limit: int | None = None,
        num_shards: int = DEFAULT_NUM_SHARDS,
    ):
        """Validates every argument now, so a bad value fails the pipeline build, not a run.

        Args:
          dataset: TFDS name, optionally with a version (`mnist`, `fashion_mnist:3.0.1`).
          data_dir: where TFDS keeps prepared datasets (TFDS's default when None).
          manual_dir: directory holding the dataset's original source files (no network needed).
          splits: {output split: TFDS split expression}; default train->train, test->eval.
          hash_buckets: re-split everything in `splits` by example hash, e.g. {"train": 9,
            "eval": 1}.
          example_limit: at most this many examples per input split (quick runs).
          num_shards: TFRecord files per output split.
        """
        check_dataset_name(dataset)
        if example_limit is not None and example_limit < 1:
            raise ValueError(f"example_limit must be >= 1 or None, got {example_limit}")
        if num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {num_shards}")
        input_config, output_config = make_split_configs(splits, hash_buckets)
        spec = TfdsExampleGenSpec(
            input_config=input_config,
            output_config=output_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=Channel(type=standard_artifacts.Examples),
            **{
                DATASET_KEY: dataset,
                DATA_DIR_KEY: data_dir,
                MANUAL_DIR_KEY: manual_dir,
                EXAMPLE_LIMIT_KEY: example_limit,
                NUM_SHARDS_KEY: num_shards,
            },
        )
        # Skip QueryBasedExampleGen.__init__, which builds its own spec without our parameters.
        super(QueryBasedExampleGen, self).__init__(spec=spec)
