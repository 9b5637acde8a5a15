"""The data against the options, before any Beam job: one line naming what is wrong.

What a first record or a dataset's own info can tell is checked here, in seconds, before the
pipeline starts, so a wrong feature name or an empty directory costs no ExampleGen run:

- `EXAMPLES_DIR`: the first record of each split (`pruning.records.inspect_dir`): an
  `IMAGE_FEATURE` or `LABEL_FEATURE` the records lack (the features they have are listed), raw
  pixels that do not fill `IMAGE_SHAPE`, an empty `train/` or `eval/`, a file that is not TFRecord.
- `DATASET`: TFDS's own info of it: no such dataset, not one Image and one ClassLabel, images of
  varying sizes, an unknown split, and, where it is not prepared yet, source files neither in the
  manual dir nor downloadable from this machine.

What only the whole data can tell (a label outside the classes, an image of another size or no
image at all) the ExampleValidator reports (components/image_sizes.py). The ExampleGens check
the same again when they run, for runners that start elsewhere (Kubeflow).
"""

from __future__ import annotations

import dataclasses

from pipelines import configs


@dataclasses.dataclass(frozen=True)
class DataShape:
    """What the model must fit: the images' (height, width, channels) and, where the data
    declares them, the classes (a TFDS ClassLabel's; the user's labels are counted later)."""

    image_shape: tuple[int, int, int]
    num_classes: int | None


def check_data(config: configs.PipelineConfig, available: bool = True) -> DataShape:
    """The data's shape; SettingsError naming the option or file at fault. `available`: also
    that an unprepared TFDS dataset's source files are in the manual dir or downloadable."""
    if config.examples_dir:
        return _check_examples_dir(config)
    return _check_tfds(config, available)


def _check_examples_dir(config: configs.PipelineConfig) -> DataShape:
    from pruning import records

    try:
        image_format = records.inspect_dir(config.examples_dir, config.image_feature,
                                           config.label_feature, config.declared_image_shape)
    except records.RecordsError as error:
        raise configs.SettingsError(f"EXAMPLES_DIR={config.examples_dir}: {error}") from None
    return DataShape(image_format.shape, None)


def _check_tfds(config: configs.PipelineConfig, available: bool) -> DataShape:
    import tensorflow_datasets as tfds

    from components.tfds_example_gen import tfds_source

    try:
        builder = tfds.builder(config.dataset, data_dir=config.tfds_data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise configs.option_error("dataset", config.dataset,
                                   f"TFDS has no such dataset ({_first_line(error)})") from None
    except (ValueError, AssertionError) as error:  # a version TFDS does not have
        # TFDS says 'Failed to construct dataset "mnist", builder_kwargs "{...}": <why>'.
        why = _first_line(error).rsplit('": ', 1)[-1]
        raise configs.option_error("dataset", config.dataset, why) from None
    try:
        image_format = tfds_source.image_format(builder)
        for option in ("train_split", "eval_split"):
            try:
                tfds_source.check_split(builder, getattr(config, option))
            except ValueError as error:
                raise configs.option_error(option, getattr(config, option), str(error)) from None
        if available and not builder.is_prepared():
            try:
                tfds_source.check_manual_dir(builder, config.tfds_manual_dir)
            except tfds_source.ManualDataMissingError:
                if not tfds_source.can_download(builder):
                    raise
    except (tfds_source.NotImageClassificationError,
            tfds_source.ManualDataMissingError) as error:
        raise configs.option_error("dataset", config.dataset, str(error)) from None
    return DataShape(image_format.shape, tfds_source.num_classes(builder))


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
