"""The contract between TfdsExampleGen's Examples and the steps that read them.

Every step reads the Examples with `pruning.data` (gzipped TFRecords of tf.Example with an
`image` of 784 int64 pixels and an int64 `label`); a step given a Schema checks first that the
Schema describes those features, so Examples from another ExampleGen fail at once, named.

The Schema the pipeline validates against is SchemaGen's inference plus `constrain_schema`: what
the model needs of every example, which inference from the same data cannot know (a label out of
range, or a feature missing from every example, would simply be inferred as normal).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.types import artifact_utils
from tfx.utils import io_utils

from pruning import architecture, data

SCHEMA_FILE = "schema.pbtxt"
# The features pruning.data parses: name -> (schema type, shape).
EXPECTED = {data.IMAGE_KEY: (schema_pb2.INT, [28 * 28]), data.LABEL_KEY: (schema_pb2.INT, [1])}
# The values each feature may take: 8-bit pixels, one of the model's classes.
VALUE_RANGES = {data.IMAGE_KEY: data.PIXEL_RANGE,
                data.LABEL_KEY: (0, architecture.NUM_CLASSES - 1)}


def constrain_schema(schema: schema_pb2.Schema) -> schema_pb2.Schema:
    """`schema` with EXPECTED's features required in every example, of their type and shape,
    and their values in VALUE_RANGES; a feature the inference did not see is added. Other
    features are left as inferred."""
    constrained = schema_pb2.Schema()
    constrained.CopyFrom(schema)
    by_name = {feature.name: feature for feature in constrained.feature}
    for name, (kind, shape) in EXPECTED.items():
        feature = by_name.get(name) or constrained.feature.add(name=name)
        feature.type = kind
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        feature.ClearField("value_count")  # shape and value_count are exclusive
        feature.shape.Clear()
        for size in shape:
            feature.shape.dim.add(size=size)
        low, high = VALUE_RANGES[name]
        feature.int_domain.min, feature.int_domain.max = low, high
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


@contextlib.contextmanager
def naming_corrupt_files(examples: list[types.Artifact]) -> Iterator[None]:
    """Re-raises a failure inside as `pruning.data.CorruptRecordsError` naming each file of
    `examples` that cannot be read to its end, when there is one; other failures pass as they
    are. For steps whose readers (Beam's, TFX's) do not name the file they failed on."""
    try:
        yield
    except Exception as error:
        try:
            files = [path for artifact in examples
                     for split in artifact_utils.decode_split_names(artifact.split_names)
                     for path in data.split_files(artifact.uri, split)]
        except FileNotFoundError:  # a split without files: the failure says more than we can
            raise error from None
        corrupt = data.corrupt_records_error(files)
        if corrupt is None:
            raise
        raise corrupt from error
