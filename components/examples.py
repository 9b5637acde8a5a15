"""The contract between TfdsExampleGen's Examples and the steps that read them.

Every step reads the Examples with `pruning.data` (gzipped TFRecords of tf.Example with an
`image` of 784 int64 pixels and an int64 `label`); a step given a Schema checks first that the
Schema describes those features, so Examples from another ExampleGen fail at once, named.
"""

from __future__ import annotations

import os

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import io_utils

from pruning import data

SCHEMA_FILE = "schema.pbtxt"
# The features pruning.data parses: name -> (schema type, shape).
EXPECTED = {data.IMAGE_KEY: (schema_pb2.INT, [28 * 28]), data.LABEL_KEY: (schema_pb2.INT, [1])}


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
