"""Custom TFX components of the pruning pipeline.

Importing this package imports `pruning`, which puts Keras 2 (tf_keras) in force. Each executor
imports the library it adapts when it runs, so defining a pipeline (every cached rerun) does not
pay for TensorFlow Model Optimization's import.
"""

import pruning  # noqa: F401

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
