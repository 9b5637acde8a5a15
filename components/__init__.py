"""Custom TFX components of the pruning pipeline.

Importing this package puts Keras 2 (tf_keras) in force: TensorFlow Model Optimization needs it, and
TensorFlow reads TF_USE_LEGACY_KERAS when `tf.keras` is first touched.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

# The custom artifact types by their TYPE_NAME "components.<Class>": Kubeflow v2 imports a custom
# type from its name inside the container. Resolved lazily (PEP 562) to keep this import light.
_ARTIFACT_TYPES = {
    "PruningCheckpoint": "components.prune_trainer.spec",
    "CompressionReport": "components.compress_exporter.spec",
}


def __getattr__(name: str):
    if name in _ARTIFACT_TYPES:
        import importlib

        return getattr(importlib.import_module(_ARTIFACT_TYPES[name]), name)
    raise AttributeError(f"module 'components' has no attribute {name!r}")
