"""The contract between TfdsExampleGen's Examples and the steps that read them.

Every step reads the Examples with `pruning.data` (gzipped TFRecords of tf.Example with an
`image` of 784 int64 pixels and an int64 `label`); a step given a Schema checks first that the
Schema describes those features, so Examples from another ExampleGen fail at once, named.

The Schema the pipeline validates against is SchemaGen's inference plus `constrain_schema`: what
the model needs of every example, which inference from the same data cannot know (a label out of
range, or a feature missing from some or every example, would simply be inferred as normal).
"""

from __future__ import annotations

import contextlib
import os

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.types import artifact_utils
from tfx.utils import io_utils

from pruning import data

SCHEMA_FILE = "schema.pbtxt"
# The features pruning.data parses: name -> (schema type, shape).
EXPECTED = {data.IMAGE_KEY: (schema_pb2.INT, [28 * 28]), data.LABEL_KEY: (schema_pb2.INT, [1])}
# The values each feature may take: 8-bit pixels, one of the model's classes.
VALUE_RANGES = {data.IMAGE_KEY: data.PIXEL_RANGE,
                data.LABEL_KEY: (0, data.NUM_CLASSES - 1)}


def constrain_schema(schema: schema_pb2.Schema) -> schema_pb2.Schema:
    """`schema` with EXPECTED's features required in every example and their integer values
    in VALUE_RANGES; a feature the inference never saw is added with its expected type and
    shape. A type or shape inferred from the data is kept, so `check_schema` still names
    Examples of another layout; other features are left as inferred."""
    constrained = schema_pb2.Schema()
    constrained.CopyFrom(schema)
    by_name = {feature.name: feature for feature in constrained.feature}
    for name, (kind, shape) in EXPECTED.items():
        feature = by_name.get(name)
        if feature is None:
            feature = constrained.feature.add(name=name, type=kind)
            for size in shape:
                feature.shape.dim.add(size=size)
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        if feature.type == schema_pb2.INT:
            feature.int_domain.min, feature.int_domain.max = VALUE_RANGES[name]
    return constrained


def check_schema(schema_uri: str) -> None:
    """ValueError naming every feature the Schema at `schema_uri` lacks or describes otherwise."""
    path = os.path.join(schema_uri, SCHEMA_FILE)
    schema = io_utils.parse_pbtxt_file(path, schema_pb2.Schema())
    found = {f.name: (f.type, [d.size for d in f.shape.dim]) for f in schema.feature}
    problems = [
        f"{name}: expected {schema_pb2.FeatureType.Name(kind)} of shape {shape}, found "
        + (f"{schema_pb2.FeatureType.Name(found[name][0])} of shape {found[name][1]}"
           if name in found else "nothing")
        for name, (kind, shape) in EXPECTED.items() if found.get(name) != (kind, shape)
    ]
    if problems:
        raise ValueError(f"The Schema {path} does not describe this project's Examples: "
                         f"{'; '.join(problems)}")


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
