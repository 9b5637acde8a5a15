"""The user's model: a model module that builds it, or a file of a model already trained.

A *model module* is a Python file, or an importable module, that defines

    def build_model(input_shape, num_classes) -> tf_keras.Model

`input_shape` is the image's (height, width, channels); the model takes float pixels in [0, 1]
and returns `num_classes` logits (or probabilities, when it ends in a softmax). The project's CNN
(`pruning.model.cnn`) is the default; `pruning.model.resnet8` and `pruning.model.ds_cnn` are two
more. Like the `module_file` of TFX's Trainer, the module travels with the pipeline: its source
text is what the Trainer runs (`ModuleSource`), so the same code runs locally, in a container and
on a cluster, and its SHA-256 names it in ML Metadata.

`load_trained` reads a model a user already trained: a `.keras` or `.h5` file, or a SavedModel
directory written by tf-keras, from any URI TensorFlow reads.

No TensorFlow is imported until a model is built or loaded, so the pipeline's options name a
module that is not there in milliseconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import sys
import tempfile
import types
from collections.abc import Sequence

DEFAULT_MODULE = "pruning.model.cnn"
# The modules this repository ships, by the short names `make bench --model` takes.
SHIPPED = {"cnn": DEFAULT_MODULE, "resnet8": "pruning.model.resnet8",
           "ds_cnn": "pruning.model.ds_cnn"}
BUILD_FUNCTION = "build_model"


class ModelModuleError(ValueError):
    """A model module or trained-model file that cannot give a model: one line saying why."""


@dataclasses.dataclass(frozen=True)
class ModuleSource:
    """A model module as it travels: what the user named (`name`: a dotted module or a .py
    file), its source text and that text's SHA-256."""

    name: str
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_MODULE

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, values: dict) -> ModuleSource:
        module = cls(values["name"], values["source"])
        if values.get("sha256", module.sha256) != module.sha256:
            raise ModelModuleError(f"Model module {module.name!r}: its source does not match "
                                   "the SHA-256 it was recorded with")
        return module


def is_file(reference: str) -> bool:
    return reference.endswith(".py") or os.sep in reference


def read_source(reference: str) -> ModuleSource:
    """The module `reference` names (a .py file, an importable dotted name or a shipped short
    name), read without running it; ModelModuleError when it is not there."""
    reference = SHIPPED.get(reference, reference)
    if is_file(reference):
        if not os.path.isfile(reference):
            raise ModelModuleError(f"no such file {reference!r}: give a Python file that "
                                   f"defines {BUILD_FUNCTION}(input_shape, num_classes), or an "
                                   "importable module")
        with open(reference) as f:
            return ModuleSource(os.path.abspath(reference), f.read())
    try:
        spec = importlib.util.find_spec(reference)
    except (ImportError, ValueError) as error:
        spec, why = None, str(error)
    else:
        why = "not found"
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ModelModuleError(f"cannot import {reference!r} ({why}); give a Python file or an "
                               f"importable module that defines {BUILD_FUNCTION}(input_shape, "
                               f"num_classes), or one of {', '.join(SHIPPED)}")
    with open(spec.origin) as f:
        return ModuleSource(reference, f.read())


def load(module: ModuleSource) -> types.ModuleType:
    """The module, run from its source text (not from whatever the name imports here). The text
    is kept in a file named by its SHA-256 for as long as the process may read it: AutoGraph
    reads a layer's source to convert its `call`."""
    stem = os.path.splitext(os.path.basename(module.name))[0].replace(".", "_")
    name = f"model_module_{stem}_{module.sha256[:16]}"
    if name in sys.modules:  # this text already ran in this process: its layers are registered
        return sys.modules[name]
    directory = os.path.join(tempfile.gettempdir(), "model_modules")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{stem}_{module.sha256[:16]}.py")
    if not os.path.exists(path):
        with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".py", delete=False) as f:
            f.write(module.source)
        os.replace(f.name, path)  # whole or not at all, whichever process wrote it
    spec = importlib.util.spec_from_file_location(name, path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded  # as an import would: inspect and pickling find its classes
    try:
        spec.loader.exec_module(loaded)
    except Exception as error:
        del sys.modules[name]
        raise ModelModuleError(f"Model module {module.name!r} failed to load: "
                               f"{type(error).__name__}: {error}") from error
    if not callable(getattr(loaded, BUILD_FUNCTION, None)):
        raise ModelModuleError(f"Model module {module.name!r} defines no "
                               f"{BUILD_FUNCTION}(input_shape, num_classes)")
    return loaded


def build(module: ModuleSource, input_shape: Sequence[int], num_classes: int,
          **options) -> object:
    """`build_model(input_shape, num_classes, **options)` of the module, checked to be a
    tf-keras model (`options`: the project's CNN's own shape, for it alone)."""
    import tf_keras as keras

    function = getattr(load(module), BUILD_FUNCTION)
    try:
        model = function(tuple(input_shape), num_classes, **options)
    except Exception as error:
        raise ModelModuleError(f"{BUILD_FUNCTION} of model module {module.name!r} failed: "
                               f"{type(error).__name__}: {error}") from error
    if not isinstance(model, keras.Model):
        raise ModelModuleError(
            f"{BUILD_FUNCTION} of model module {module.name!r} returned "
            f"{type(model).__module__}.{type(model).__name__}, not a tf_keras.Model (import "
            "tf_keras as keras; TensorFlow Model Optimization needs Keras 2)")
    return model


def load_trained(uri: str):
    """A model a user trained: a `.keras` or `.h5` file or a tf-keras SavedModel directory,
    from any URI TensorFlow reads; ModelModuleError when it is not there or not a Keras model."""
    import tensorflow as tf

    from pruning.model import export

    if not tf.io.gfile.exists(uri):
        raise ModelModuleError(f"no such file or directory {uri!r}")
    local, scratch = uri, None
    if "://" in uri and not tf.io.gfile.isdir(uri):  # Keras reads .keras/.h5 files locally
        scratch = tempfile.TemporaryDirectory()
        local = os.path.join(scratch.name, os.path.basename(uri))
        tf.io.gfile.copy(uri, local)
    try:
        return export.load_keras(local)
    except Exception as error:
        raise ModelModuleError(f"{uri} is not a Keras model this project can load (a .keras or "
                               f".h5 file, or a SavedModel written by tf-keras): "
                               f"{type(error).__name__}: {str(error).splitlines()[0]}") from None
    finally:
        if scratch is not None:
            scratch.cleanup()


def check_fits(model, input_shape: Sequence[int], num_classes: int, where: str) -> None:
    """ModelModuleError unless `model` takes an image of `input_shape` (its values in any
    layout: 28x28 for 28x28x1) and gives `num_classes` scores; `where` names the model."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelModuleError(f"{where} has {len(model.inputs)} inputs and "
                               f"{len(model.outputs)} outputs; it needs one image in and one "
                               "score per class out")
    taken = tuple(model.input_shape[1:])
    if None in taken or _product(taken) != _product(input_shape):
        raise ModelModuleError(
            f"{where} takes inputs of shape {taken}, which does not hold the data's "
            f"{'x'.join(map(str, input_shape))} images")
    if tuple(model.output_shape[1:]) != (num_classes,):
        raise ModelModuleError(f"{where} gives outputs of shape {tuple(model.output_shape[1:])}"
                               f"; the data has {num_classes} classes: ({num_classes},)")


def _product(dims) -> int:
    total = 1
    for dim in dims:
        total *= int(dim)
    return total
