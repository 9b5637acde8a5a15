"""The contract between an ExampleGen's Examples and the steps that read them.

Every step reads the Examples with `pruning.data`, in the `ImageFormat` the ExampleGen recorded on
the Examples artifact (`image_format`: which features hold the image and the label, how the image
is stored, its shape; `format_of`). A step given a Schema checks first that the Schema describes
those features (`check_schema`), so Examples of another layout fail at once, named.

The Schema the pipeline validates against is SchemaGen's inference plus `constrain_schema`: what
the model needs of every example, which inference from the same data cannot know (a label out of
range, or a feature missing from some or every example, would simply be inferred as normal). The
number of classes comes from the data: the dataset's own class list where the ExampleGen knows
it (a TFDS ClassLabel), else the train split's largest label, from its statistics, plus one
(`num_classes` reads it back from the Schema).
"""

from __future__ import annotations

import contextlib
import os

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.types import artifact_utils
from tfx.utils import io_utils

from pruning import data
from pruning.image_data import MNIST, PIXEL_RANGE, ImageFormat

SCHEMA_FILE = "schema.pbtxt"
IMAGE_FORMAT = "image_format"  # the Examples' custom property: ImageFormat JSON
# The Examples' custom property where the ExampleGen knows the classes (a TFDS ClassLabel's);
# absent, the classes are the train split's labels.
NUM_CLASSES = "num_classes"


def format_of(artifact: types.Artifact) -> ImageFormat:
    """The image format an ExampleGen recorded on its Examples (or statistics of them); MNIST's
    for Examples that predate the property."""
    text = artifact.get_string_custom_property(IMAGE_FORMAT)
    return ImageFormat.from_json(text) if text else MNIST


def record_format(artifact: types.Artifact, image_format: ImageFormat,
                  num_classes: int | None = None) -> None:
    """The format (and, where the ExampleGen knows them, the classes) on an Examples artifact
    or on statistics of it."""
    artifact.set_string_custom_property(IMAGE_FORMAT, image_format.to_json())
    if num_classes is not None:
        artifact.set_int_custom_property(NUM_CLASSES, num_classes)


def declared_classes(artifact: types.Artifact) -> int | None:
    """The classes the ExampleGen recorded, or None (then the train split's labels say)."""
    return artifact.get_int_custom_property(NUM_CLASSES) or None


def expected_features(image_format: ImageFormat) -> dict[str, tuple[int, list[int]]]:
    """The features `pruning.data` parses: name -> (schema type, shape)."""
    image = ((schema_pb2.INT, [image_format.pixels]) if image_format.encoding == "int64"
             else (schema_pb2.BYTES, [1]))
    return {image_format.image_key: image, image_format.label_key: (schema_pb2.INT, [1])}


def constrain_schema(schema: schema_pb2.Schema, image_format: ImageFormat = MNIST,
                     num_classes: int = data.NUM_CLASSES) -> schema_pb2.Schema:
    """`schema` with the format's features required in every example, integer pixels in
    0-255 and labels in [0, num_classes); a feature the inference never saw is added with its
    expected type and shape. A type or shape inferred from the data is kept, so `check_schema`
    still names Examples of another layout; other features are left as inferred."""
    constrained = schema_pb2.Schema()
    constrained.CopyFrom(schema)
    by_name = {feature.name: feature for feature in constrained.feature}
    ranges = {image_format.image_key: PIXEL_RANGE, image_format.label_key: (0, num_classes - 1)}
    for name, (kind, shape) in expected_features(image_format).items():
        feature = by_name.get(name)
        if feature is None:
            feature = constrained.feature.add(name=name, type=kind)
            for size in shape:
                feature.shape.dim.add(size=size)
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        if feature.type == schema_pb2.INT:
            feature.int_domain.min, feature.int_domain.max = ranges[name]
    return constrained


def read_schema(schema_uri: str) -> schema_pb2.Schema:
    return io_utils.parse_pbtxt_file(os.path.join(schema_uri, SCHEMA_FILE), schema_pb2.Schema())


def check_schema(schema_uri: str, image_format: ImageFormat = MNIST) -> None:
    """ValueError naming every feature the Schema at `schema_uri` lacks or describes otherwise."""
    schema = read_schema(schema_uri)
    found = {f.name: (f.type, [d.size for d in f.shape.dim]) for f in schema.feature}
    problems = [
        f"{name}: expected {schema_pb2.FeatureType.Name(kind)} of shape {shape}, found "
        + (f"{schema_pb2.FeatureType.Name(found[name][0])} of shape {found[name][1]}"
           if name in found else "nothing")
        for name, (kind, shape) in expected_features(image_format).items()
        if found.get(name) != (kind, shape)
    ]
    if problems:
        raise ValueError(f"The Schema {os.path.join(schema_uri, SCHEMA_FILE)} does not describe "
                         f"this project's Examples: {'; '.join(problems)}")


def num_classes(schema_uri: str, image_format: ImageFormat = MNIST) -> int:
    """The classes the Schema's label range holds (`constrain_schema`)."""
    for feature in read_schema(schema_uri).feature:
        if feature.name == image_format.label_key and feature.HasField("int_domain"):
            return int(feature.int_domain.max) + 1
    raise ValueError(f"The Schema in {schema_uri} gives label {image_format.label_key!r} no "
                     "range: it was not written by this project's SchemaGen")


def split_files(artifact: types.Artifact, splits: list[str] | None = None) -> list[str]:
    """The files of `splits` (default: all) of an Examples artifact, in split order."""
    names = artifact_utils.decode_split_names(artifact.split_names)
    return [path for split in names if splits is None or split in splits
            for path in data.split_files(artifact.uri, split)]


def naming_corrupt_files(examples: list[types.Artifact],
                         splits: list[str] | None = None) -> contextlib.AbstractContextManager:
    """`pruning.data.naming_corrupt_files` over the `splits` (default: all) a step reads of
    `examples`: for steps whose readers (Beam's, TFX's) do not name the file they failed on."""
    return data.naming_corrupt_files(
        path for artifact in examples for path in split_files(artifact, splits))
