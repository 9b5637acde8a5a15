"""Structured pruning of any Keras model (pruning/structured), tested by its contract.

On graphs of every shape the analysis must see through (sequential, identity and projection
residuals, depthwise-separable blocks, concatenations, Flatten into Dense, squeeze-and-excite,
nested and shared layers, MobileNetV2): every narrowed kernel is the original's at the kept
indices, batch normalization follows its channels, and the narrowed model computes what the
original computes once every kernel's input rows that were not kept are zero. Every weight and
batch-normalization statistic is random and the channels kept are chosen at random, so a slice at
the wrong indices changes the outputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from pruning import structured
from pruning.model import cnn, ds_cnn, resnet8
from pruning.model.layers import ScaledDense
from pruning.params import ModelParams

L = keras.layers


def randomize(model: keras.Model, seed: int = 0) -> keras.Model:
    """Every weight random; variances positive; nothing zero by chance."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if "moving_variance" in variable.name:
            value = rng.uniform(0.5, 2.0, shape)
        elif "gamma" in variable.name or "scale" in variable.name:
            value = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
        else:
            value = rng.normal(0, 0.5 if "kernel" not in variable.name else
                               1 / np.sqrt(max(np.prod(shape[:-1]), 1)), shape)
        variable.assign(value.astype(np.float32))
    return model


def random_importance(seed: int):
    """Scores that scatter the kept channels: no prefix of a group survives by construction."""

    def importance(graph: structured.ChannelGraph) -> np.ndarray:
        return np.random.default_rng(seed).random(int(graph.channel_of.max()) + 1)

    return importance


def all_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    found = {}
    for layer in model.layers:
        found[layer.name] = layer
        if isinstance(layer, keras.Model):
            found.update(all_layers(layer))
    return found


def masked_copy(model: keras.Model, result: structured.Narrowed) -> keras.Model:
    """The original with every kernel's input rows that were not kept set to zero."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    layers = all_layers(copy)
    for name, kept in result.kept.items():
        if kept.inputs is None:
            continue
        layer = layers[name]
        kernel = layer.kernel if hasattr(layer, "kernel") else layer.depthwise_kernel
        axis = 2 if not hasattr(layer, "kernel") else len(kernel.shape) - 2
        mask = np.zeros(kernel.shape[axis], np.float32)
        mask[kept.inputs] = 1
        shape = [1] * len(kernel.shape)
        shape[axis] = -1
        kernel.assign(kernel * mask.reshape(shape))
    return copy


def check_contract(model: keras.Model, result: structured.Narrowed, seed: int = 0) -> None:
    narrow = result.model
    assert type(narrow) is type(model)
    assert narrow.input_shape == model.input_shape and narrow.output_shape == model.output_shape
    original, narrowed = all_layers(model), all_layers(narrow)
    assert set(narrowed) == set(original)
    kernels = {name for name, layer in original.items()
               if hasattr(layer, "kernel") or hasattr(layer, "depthwise_kernel")}
    assert set(result.kept) == kernels
    for name, kept in result.kept.items():
        before, after = original[name], narrowed[name]
        depthwise = not hasattr(before, "kernel")
        kernel = (before.depthwise_kernel if depthwise else before.kernel).numpy()
        in_axis = 2 if depthwise else kernel.ndim - 2
        expected = kernel
        if kept.inputs is not None:
            assert len(kept.inputs) < kernel.shape[in_axis]
            expected = np.take(expected, kept.inputs, axis=in_axis)
        if kept.outputs is not None:
            assert not depthwise
            expected = np.take(expected, kept.outputs, axis=kernel.ndim - 1)
        got = (after.depthwise_kernel if depthwise else after.kernel).numpy()
        np.testing.assert_array_equal(got, expected, err_msg=name)
        # Biases and scales follow the output channels.
        outputs = result.channels[name].outputs[0]
        for old, new in zip(before.weights, after.weights, strict=True):
            if old.name.split("/")[-1].startswith(("bias", "scale")):
                np.testing.assert_array_equal(new.numpy(), old.numpy()[outputs], err_msg=name)
    for name, layer in original.items():
        if (isinstance(layer, keras.layers.BatchNormalization)  # over the channels
                and layer.weights[0].shape[0] == result.channels[name].input_widths[0]):
            channels = result.channels[name].inputs[0]
            for old, new in zip(layer.weights, narrowed[name].weights, strict=True):
                np.testing.assert_array_equal(new.numpy(), old.numpy()[channels], err_msg=name)
    rng = np.random.default_rng(seed)
    inputs = [rng.normal(0, 1, (4, *tensor.shape[1:])).astype(np.float32)
              for tensor in model.inputs]
    expected = masked_copy(model, result)(inputs, training=False)
    got = narrow(inputs, training=False)
    for want, have in zip(tf.nest.flatten(expected), tf.nest.flatten(got), strict=True):
        scale = float(np.max(np.abs(want.numpy()))) or 1.0
        np.testing.assert_allclose(have.numpy(), want.numpy(), rtol=1e-4, atol=1e-4 * scale)


def removed_some(result: structured.Narrowed) -> bool:
    return any(group.kept < group.width for group in result.groups)


# -- graph shapes the tests build -----------------------------------------------------------

def conv_bn(x, filters, name, size=3, strides=1, activation=True):
    x = L.Conv2D(filters, size, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = L.BatchNormalization(name=f"{name}_bn")(x)
    return L.ReLU(name=f"{name}_relu")(x) if activation else x


def residual_model() -> keras.Model:
    """An identity residual and a projection residual (ResNet's two kinds of block)."""
    inputs = keras.Input((12, 12, 3))
    x = conv_bn(inputs, 8, "stem")
    y = conv_bn(x, 8, "a1")
    y = conv_bn(y, 8, "a2", activation=False)
    x = L.ReLU()(L.Add(name="add_a")([x, y]))  # identity: stem's and a2's channels coupled
    y = conv_bn(x, 16, "b1", strides=2)
    y = conv_bn(y, 16, "b2", activation=False)
    shortcut = L.Conv2D(16, 1, strides=2, name="b_proj")(x)
    x = L.ReLU()(L.Add(name="add_b")([shortcut, y]))  # projection: b_proj's and b2's coupled
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(5, name="head")(x), name="resnet")


def depthwise_model() -> keras.Model:
    """Depthwise-separable blocks, one with depth multiplier 2, ReLU6 and zero padding."""
    inputs = keras.Input((10, 10, 2))
    x = conv_bn(inputs, 8, "stem")
    x = L.ZeroPadding2D(1)(x)
    x = L.DepthwiseConv2D(3, name="dw1")(x)
    x = L.BatchNormalization(name="dw1_bn")(x)
    x = L.ReLU(6.0, name="dw1_relu6")(x)
    x = L.Conv2D(12, 1, name="pw1")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw2")(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(6, 1, name="pw2")(x)
    x = L.AveragePooling2D()(x)
    x = L.Flatten()(x)
    return keras.Model(inputs, L.Dense(4, name="head")(x), name="ds")


def concat_model() -> keras.Model:
    """Inception-like branches concatenated on channels, the result added to a conv's output
    (which couples that conv's channels with both branches' at their offsets)."""
    inputs = keras.Input((9, 9, 3))
    a = conv_bn(inputs, 6, "branch_a", size=1)
    b = conv_bn(inputs, 10, "branch_b")
    c = L.MaxPooling2D(3, strides=1, padding="same")(conv_bn(inputs, 4, "branch_c"))
    x = L.Concatenate(name="concat")([a, b, c])
    x = L.Add(name="add")([x, L.Conv2D(20, 1, name="side")(inputs)])
    x = conv_bn(x, 7, "after")
    y = L.Concatenate(axis=-1)([x, L.Dropout(0.2)(x)])  # one group twice
    y = L.GlobalMaxPooling2D()(y)
    return keras.Model(inputs, L.Dense(3, name="head")(y), name="inception")


def flatten_model() -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    x = conv_bn(inputs, 6, "conv")
    x = L.MaxPooling2D()(x)
    x = L.Flatten()(x)
    x = L.Dense(20, activation="relu", name="fc1")(x)
    x = ScaledDense(12, activation="relu", name="fc2")(x)
    x = L.Dropout(0.3)(x)
    return keras.Model(inputs, L.Dense(4, name="logits")(x), name="flat")


def squeeze_excite_model() -> keras.Model:
    """A squeeze-and-excite block (a Multiply of a feature map by per-channel weights), and
    Subtract, Average and Maximum couplings."""
    inputs = keras.Input((8, 8, 3))
    x = conv_bn(inputs, 12, "conv")
    s = L.GlobalAveragePooling2D(keepdims=True)(x)
    s = L.Conv2D(4, 1, activation="relu", name="squeeze")(s)
    s = L.Conv2D(12, 1, activation="sigmoid", name="excite")(s)
    x = L.Multiply(name="scale")([x, s])
    y = conv_bn(inputs, 12, "other")
    x = L.Subtract()([x, y])
    z = L.Conv2D(12, 1, name="third")(inputs)
    x = L.Average()([x, z])
    x = L.Maximum()([x, L.LeakyReLU()(x)])
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(3, name="head")(x), name="se")


def nested_model() -> keras.Model:
    """A Sequential base inside a Functional model, a nested head whose input channels narrow,
    and a convolution called twice (its channels belong to both calls' groups)."""
    base = keras.Sequential([keras.Input((10, 10, 3)), L.Conv2D(8, 3, name="base1"),
                             L.BatchNormalization(name="base1_bn"), L.ReLU(),
                             L.Conv2D(10, 3, name="base2"), L.ReLU()], name="base")
    head = keras.Sequential([keras.Input((6, 6, 10)), L.Conv2D(6, 1, name="head1"),
                             L.GlobalAveragePooling2D(), L.Dense(4, name="head_out")],
                            name="head")
    inputs = keras.Input((10, 10, 3))
    shared = L.Conv2D(10, 1, name="shared")
    features = base(inputs)
    a = shared(L.ReLU()(features))
    b = shared(L.Dropout(0.1)(features))
    x = L.Add()([a, b])
    return keras.Model(inputs, head(x), name="nested")


def sequential_cnn() -> keras.Model:
    return cnn.build_model(params=ModelParams("sequential", width=8, dense_units=16))


def functional_cnn() -> keras.Model:
    return cnn.build_model(params=ModelParams("functional", width=8, dense_units=16))


def mobilenet_v2() -> keras.Model:
    return keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None,
                                          classes=10)


SHAPES = {"sequential_cnn": sequential_cnn, "functional_cnn": functional_cnn,
          "residual": residual_model, "depthwise": depthwise_model, "concat": concat_model,
          "flatten": flatten_model, "squeeze_excite": squeeze_excite_model,
          "nested": nested_model, "mobilenet_v2": mobilenet_v2,
          "resnet8": lambda: resnet8.build_model((16, 16, 3), 10),
          "ds_cnn": lambda: ds_cnn.build_model((16, 16, 1), 10)}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("fraction", [0.3, 0.75])
def test_the_narrowed_model_meets_the_contract(shape, fraction):
    model = randomize(SHAPES[shape](), seed=len(shape))
    weights = [w.copy() for w in model.get_weights()]
    result = structured.narrow(model, fraction, importance=random_importance(len(shape)))
    assert removed_some(result)
    check_contract(model, result)
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)  # the original is left as it was


@pytest.mark.parametrize("shape", ["residual", "depthwise", "concat", "mobilenet_v2"])
def test_the_default_importance_meets_the_contract(shape):
    model = randomize(SHAPES[shape](), seed=3)
    check_contract(model, structured.narrow(model, 0.5))


def test_a_residual_addition_couples_its_operands():
    graph = structured.analyze(residual_model())
    stem = graph.group_of_layer("stem")
    assert stem.producers == ("stem", "a2") and stem.consumers == ("a1", "b1", "b_proj")
    assert graph.group_of_layer("b_proj") == graph.group_of_layer("b2")
    assert graph.group_of_layer("a1").producers == ("a1",)
    result = structured.narrow(residual_model(), {"a2": 0.5})
    assert result.kept["stem"].outputs.tolist() == result.kept["a2"].outputs.tolist()
    assert len(result.kept["stem"].outputs) == 4


def test_a_concatenation_keeps_each_part_at_its_offset():
    inputs = keras.Input((6, 6, 2))
    parts = [conv_bn(inputs, 6, "branch_a", size=1), conv_bn(inputs, 10, "branch_b")]
    x = conv_bn(L.Concatenate()(parts), 5, "after")
    model = randomize(keras.Model(inputs, L.Dense(3, name="head")(L.Flatten()(x))))
    result = structured.narrow(model, {"branch_a": 0.5, "branch_b": 0.3},
                               importance=random_importance(2))
    a, b = result.kept["branch_a"].outputs, result.kept["branch_b"].outputs
    assert (len(a), len(b)) == (3, 7)
    assert result.kept["after"].inputs.tolist() == [*a.tolist(), *(6 + b).tolist()]
    check_contract(model, result)


def test_a_kernel_added_to_a_concatenation_joins_every_part_in_one_group():
    model = randomize(concat_model())
    graph = structured.analyze(model)
    group = graph.group_of_layer("side")
    assert set(group.producers) == {"branch_a", "branch_b", "branch_c", "side"}
    assert group.width == 20
    result = structured.narrow(model, {"branch_a": 0.5}, importance=random_importance(2))
    side = result.kept["side"].outputs
    a, b, c = (result.kept[name].outputs for name in ("branch_a", "branch_b", "branch_c"))
    assert side.tolist() == [*a.tolist(), *(6 + b).tolist(), *(16 + c).tolist()]
    assert len(side) == 10
    check_contract(model, result)


def test_a_flatten_into_dense_keeps_every_position_of_a_kept_channel():
    model = randomize(flatten_model())
    result = structured.narrow(model, {"conv": 0.5}, importance=random_importance(4))
    channels = result.kept["conv"].outputs
    rows = result.kept["fc1"].inputs
    assert rows.tolist() == [p * 6 + c for p in range(16) for c in channels.tolist()]
    check_contract(model, result)


def test_the_inputs_channels_and_the_models_outputs_never_change():
    for shape in SHAPES:
        result = structured.narrow(SHAPES[shape](), 0.9)
        graph = result.graph
        for atoms in graph.output_atoms:
            assert all(group.kept == group.width for group in result.groups
                       if set(group.channels) & set(graph.channels(atoms)))
        first_kernels = [kept for kept in result.kept.values()]
        assert first_kernels  # every model here has kernels
        assert result.model.input_shape == graph.model.input_shape


def test_a_layer_called_twice_is_narrowed_once_for_both_calls():
    model = randomize(nested_model())
    graph = structured.analyze(model)
    shared = graph.group_of_layer("shared")
    assert "shared" in shared.producers and shared.prunable
    # base2's outputs feed both calls of `shared`: one group, read by `shared`.
    assert "shared" in graph.group_of_layer("base2").consumers
    result = structured.narrow(model, 0.5, importance=random_importance(5))
    assert isinstance(all_layers(result.model)["base"], keras.Sequential)
    assert all_layers(result.model)["head"].input_shape[-1] == len(result.kept["shared"].outputs)
    check_contract(model, result)


def test_a_sequential_model_stays_sequential_with_its_layer_names():
    model = sequential_cnn()
    result = structured.narrow(model, {"conv1": 0.5, "dense1": 0.5})
    assert isinstance(result.model, keras.Sequential)
    assert [layer.name for layer in result.model.layers] == [layer.name for layer in model.layers]
    assert result.model.get_layer("conv1").filters == 4
    assert result.model.get_layer("dense1").units == 8


def test_groups_read_as_layers_widths_and_kept():
    result = structured.narrow(functional_cnn(), {"conv2": 0.5})
    lines = result.summary().splitlines()
    assert "conv2 -> conv3: 16 channels, 8 kept" in lines
    assert "conv1 -> conv2: 8 channels, 8 kept" in lines
    assert any(line.startswith("logits") and "left whole: they are the model's output" in line
               for line in lines)


def test_at_least_one_channel_stays_in_every_group():
    result = structured.narrow(functional_cnn(), 0.99)
    assert all(group.kept >= 1 for group in result.groups)
    assert result.model.get_layer("conv1").filters == 1


@pytest.mark.parametrize(("sparsity", "message"), [
    ({"logits": 0.5}, r"Layer 'logits' cannot lose channels: they are the model's output"),
    ({"nope": 0.5}, r"Layer 'nope' is not in model 'cnn_functional'; its layers that can lose "
                    r"channels: conv1, conv2, conv3, dense1"),
    ({"conv1": 1.0}, r"must be in \[0, 1\), got 'conv1:1.0'"),
    (-0.1, r"must be in \[0, 1\), got -0.1"),
    ({"conv1": 0.5, "conv1_bn": 0.25}, r"share one channel group"),
])
def test_a_bad_sparsity_is_refused_naming_what_is_wrong(sparsity, message):
    with pytest.raises(structured.SparsityError, match=message):
        structured.narrow(functional_cnn(), sparsity)


def test_a_layer_it_cannot_see_through_leaves_its_groups_whole():
    inputs = keras.Input((8, 8, 2))
    x = conv_bn(inputs, 6, "before")
    x = L.Lambda(lambda t: t * 2.0, name="double")(x)
    x = conv_bn(x, 6, "after")
    model = randomize(keras.Model(inputs, L.Dense(3, name="head")(L.Flatten()(x))))
    result = structured.narrow(model, 0.5, importance=random_importance(1))
    before = result.group_of("before")
    assert before.fixed == ("it passes through layer 'double' (Lambda), which the analysis "
                            "cannot see into")
    assert before.kept == before.width
    assert result.group_of("after").kept == 3
    check_contract(model, result)
    with pytest.raises(structured.SparsityError, match=r"'double' \(Lambda\)"):
        structured.narrow(model, {"before": 0.5})


@pytest.mark.parametrize(("middle", "reason"), [
    (lambda: L.Activation("softmax", name="mix"), "'mix' (Activation), which the analysis "
                                                  "cannot see into"),
    (lambda: L.Conv2D(6, 1, groups=2, name="mix"), "'mix' (Conv2D), which the analysis cannot "
                                                   "see into"),
    (lambda: L.BatchNormalization(axis=1, name="mix"), "'mix' (BatchNormalization), which the "
                                                       "analysis cannot see into"),
    (lambda: L.Reshape((8, 6, 8), name="mix"), "'mix' (Reshape), which the analysis cannot see "
                                               "into"),
])
def test_layers_that_mix_channels_leave_their_groups_whole(middle, reason):
    inputs = keras.Input((8, 8, 2))
    x = conv_bn(inputs, 6, "before")
    x = conv_bn(middle()(x), 4, "after")
    model = randomize(keras.Model(inputs, L.Dense(3, name="head")(L.Flatten()(x))))
    result = structured.narrow(model, 0.5, importance=random_importance(3))
    before = result.group_of("before")
    assert before.fixed.endswith(reason) and before.kept == before.width
    assert result.group_of("after").kept == 2
    check_contract(model, result)


def test_a_registered_rule_sees_through_a_custom_layer():
    class ChannelScale(L.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight("scale", (input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.scale

    def model() -> keras.Model:
        inputs = keras.Input((6, 6, 2))
        x = ChannelScale(name="channel_scale")(conv_bn(inputs, 8, "conv"))
        return keras.Model(inputs, L.Dense(3, name="head")(L.GlobalAveragePooling2D()(x)))

    assert not structured.analyze(model()).group_of_layer("conv").prunable
    structured.register_rule(ChannelScale, structured.PerChannel())
    try:
        built = randomize(model())
        result = structured.narrow(built, 0.5, importance=random_importance(2))
        kept = result.kept["conv"].outputs
        np.testing.assert_array_equal(
            all_layers(result.model)["channel_scale"].scale.numpy(),
            built.get_layer("channel_scale").scale.numpy()[kept])
        check_contract(built, result)
    finally:
        structured.rules._RULES.pop(ChannelScale)


def test_a_channels_first_model_is_refused_by_name():
    inputs = keras.Input((2, 8, 8))
    x = L.Conv2D(4, 3, data_format="channels_first", name="cf_conv")(inputs)
    model = keras.Model(inputs, L.Dense(2)(L.Flatten()(x)))
    with pytest.raises(structured.ChannelsFirstError,
                       match=r"Layer 'cf_conv' \(Conv2D\) computes on channels-first tensors"):
        structured.narrow(model, 0.5)


def test_a_subclassed_model_is_refused_by_name():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = L.Dense(3)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 4), np.float32))
    with pytest.raises(structured.UnsupportedGraphError, match=r"Model 'net' \(Net\) is "
                                                               r"subclassed"):
        structured.narrow(net, 0.5)


def test_the_folded_norm_keeps_the_channels_the_deployed_file_scales_most():
    model = functional_cnn()
    conv, bn = model.get_layer("conv1"), model.get_layer("conv1_bn")
    kernel = np.ones(conv.kernel.shape, np.float32)
    conv.kernel.assign(kernel)
    gamma = np.linspace(0.1, 0.8, 8).astype(np.float32)  # batch norm scales channel c by gamma
    bn.gamma.assign(gamma)
    result = structured.narrow(model, {"conv1": 0.5})
    assert result.kept["conv1"].outputs.tolist() == [4, 5, 6, 7]
    bn.moving_variance.assign(np.array([1e-4] * 2 + [1.0] * 6, np.float32))  # 1/sqrt(var)
    assert structured.narrow(model, {"conv1": 0.5}).kept["conv1"].outputs.tolist() == [0, 1, 6, 7]
