"""The CNN's layer table (no TensorFlow) against the Keras models built from it."""

from __future__ import annotations

import pytest

from pruning import architecture, structured
from pruning.model import cnn
from pruning.params import InvalidParam, ModelParams, PruningParams
from pruning.sparsity import wrap


@pytest.mark.parametrize("params", [
    ModelParams(), ModelParams("sequential", width=8, dense_units=16),
    ModelParams(width=3, dense_units=5)])
def test_the_table_describes_the_built_model(params):
    model = cnn.build_model(params=params)
    assert model.name == architecture.model_name(params)
    assert list(architecture.prunable_layers(params)) == wrap.layer_specs(model)
    # The kernels' sizes add up to the parameters the model counts (less BN, biases, scales).
    extra = sum(w.shape.num_elements() for layer in model.layers for w in layer.weights
                if not w.name.endswith("kernel:0"))
    kernels = sum(spec_size(spec) for spec in architecture.prunable_layers(params))
    assert kernels + extra == model.count_params()


def spec_size(spec: architecture.LayerSpec) -> int:
    size = 1
    for dim in spec.kernel_shape:
        size *= dim
    return size


def test_the_selection_on_the_table_is_the_selection_on_the_model():
    params = PruningParams(layer_names=("conv2",), layer_types=("Dense",))
    model_params = ModelParams(width=8, dense_units=16)
    on_table = architecture.select_layers(architecture.prunable_layers(model_params), params)
    on_model = wrap.select_layers(cnn.build_model(params=model_params), params)
    assert [spec.name for spec in on_table] == [layer.name for layer in on_model] == [
        "conv2", "logits"]


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [(PruningParams(layer_names=("conv4",)), "layer_names", "conv1, conv2, conv3, dense1"),
     (PruningParams(sparsity_m_by_n=(2, 4)), "sparsity_m_by_n", "layer 'conv1'"),
     (PruningParams(block_size=(1, 3), layer_names=("dense1",)), "block_size",
      r"kernel \(1600, 256\) of layer 'dense1'")],
)
def test_what_does_not_fit_is_named_without_tensorflow(params, param, message):
    with pytest.raises(InvalidParam, match=message) as raised:
        architecture.select_layers(architecture.prunable_layers(ModelParams()), params)
    assert raised.value.param == param


@pytest.mark.parametrize("sparsity", [(("conv1", 0.5), ("dense1", 0.75)), 0.6,
                                      architecture.NARROW_FILTER_SPARSITY])
@pytest.mark.parametrize("keras_api", ["functional", "sequential"])
def test_the_narrowed_table_is_what_structured_pruning_builds(sparsity, keras_api):
    params = ModelParams(keras_api, width=8, dense_units=16)
    table = architecture.narrowed_layers(architecture.prunable_layers(params), sparsity)
    narrowed = structured.narrow(cnn.build_model(params=params),
                                 sparsity if isinstance(sparsity, float) else dict(sparsity))
    assert wrap.layer_specs(narrowed.model) == table


@pytest.mark.parametrize(("sparsity", "message"), [
    ((("logits", 0.5),), "names 'logits', a layer whose outputs are the model's own: they "
                         "cannot lose channels"),
    ((("conv9", 0.5),), r"names 'conv9', not a layer \(model 'the model'\)"),
])
def test_the_table_refuses_a_layer_that_cannot_narrow(sparsity, message):
    with pytest.raises(InvalidParam, match=message):
        architecture.narrowed_layers(architecture.prunable_layers(ModelParams()), sparsity)
