"""PruneTrainer's parameters are checked when the pipeline is built; errors name the value."""

from __future__ import annotations

import json

import pytest

from pipelines import configs
from pipelines.pipeline import create_pipeline
from pruning import architecture
from pruning.params import FilterParams, InvalidParam, ModelParams
from tests.components.prune_trainer.helpers import PRUNING, TRAINING, make_component


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PRUNE_FINAL_SPARSITY": "1.0"},
         "PRUNE_FINAL_SPARSITY=1.0 (--prune-final-sparsity): must be in [0, 1)"),
        ({"PRUNE_INITIAL_SPARSITY": "-0.1"},
         "PRUNE_INITIAL_SPARSITY=-0.1 (--prune-initial-sparsity): must be in [0, 1)"),
        ({"PRUNE_LAYER_SPARSITY": "dense1:1.5"},
         "PRUNE_LAYER_SPARSITY=dense1:1.5 (--prune-layer-sparsity): needs each sparsity in "
         "[0, 1)"),
        ({"PRUNE_BEGIN_STEP": "100", "PRUNE_END_STEP": "100"},
         "PRUNE_END_STEP=100 (--prune-end-step): must be > begin_step (100)"),
        ({"PRUNE_SCHEDULE": "cubic"}, "PRUNE_SCHEDULE=cubic (--prune-schedule): must be one of "
         "polynomial_decay, constant"),
        ({"PRUNE_LAYERS": "conv9"}, "PRUNE_LAYERS=conv9 (--prune-layers): must name prunable "
         "layers of model 'cnn_functional': conv1, conv2, conv3, dense1, logits"),
        ({"PRUNE_LAYER_TYPES": "LSTM"}, "PRUNE_LAYER_TYPES=LSTM (--prune-layer-types): must "
         "name prunable layer types: Conv2D, Dense, ScaledDense"),
        ({"PRUNE_LAYER_SPARSITY": "dense9:0.9"}, "PRUNE_LAYER_SPARSITY=dense9:0.9 "
         "(--prune-layer-sparsity): must name prunable layers of model 'cnn_functional'"),
        ({"PRUNE_LAYER_SPARSITY": "dense1=0.9"}, "PRUNE_LAYER_SPARSITY=dense1=0.9 "
         "(--prune-layer-sparsity): item 'dense1=0.9' must look like 'layer:sparsity'"),
        ({"PRUNE_M_BY_N": "4:4"}, "PRUNE_M_BY_N=4:4 (--prune-m-by-n): needs 1 <= m < n"),
        ({"PRUNE_M_BY_N": "2:4"}, "PRUNE_M_BY_N=2:4 (--prune-m-by-n): needs the input channels "
         "of layer 'conv1'"),
        ({"PRUNE_M_BY_N": "2-4"}, "PRUNE_M_BY_N=2-4 (--prune-m-by-n): must look like 'a:b'"),
        # Weight pruning applies to the model structured pruning leaves (dense1 600 x 48) ...
        ({"PRUNE_BLOCK_SIZE": "7x1", "PRUNE_LAYERS": "dense1",
          "PRUNE_FILTER_SPARSITY": "conv1:0.75,conv2:0.625,conv3:0.625,dense1:0.8125"},
         "PRUNE_BLOCK_SIZE=7x1 (--prune-block-size): must divide the kernel (600, 48) of "
         "layer 'dense1'"),
        # ... or, with it off, to the full-width one.
        ({"PRUNE_BLOCK_SIZE": "3x1", "PRUNE_LAYERS": "dense1", "PRUNE_FILTER_SPARSITY": "none"},
         "PRUNE_BLOCK_SIZE=3x1 (--prune-block-size): must divide the kernel (1600, 256) of "
         "layer 'dense1'"),
        ({"PRUNE_FILTER_SPARSITY": "logits:0.5"},
         "PRUNE_FILTER_SPARSITY=logits:0.5 (--prune-filter-sparsity): names 'logits', a layer "
         "whose outputs are the model's own: they cannot lose channels (model 'cnn_functional'); "
         "layers that can lose channels: conv1, conv2, conv3, dense1"),
        ({"PRUNE_FILTER_SPARSITY": "conv2:0.5,flatten:0.5"},
         "PRUNE_FILTER_SPARSITY=conv2:0.5,flatten:0.5 (--prune-filter-sparsity): names "
         "'flatten', not a layer (model 'cnn_functional')"),
        ({"PRUNE_FILTER_SPARSITY": "1.2"},
         "PRUNE_FILTER_SPARSITY=1.2 (--prune-filter-sparsity): needs the removed fraction in "
         "(0, 1)"),
        ({"MODEL_MODULE": "resnet8", "KERAS_API": "sequential"},
         "KERAS_API=sequential (--keras-api): applies to the project's CNN only"),
        ({"PRUNE_FILTER_SPARSITY": "conv1:1"},
         "PRUNE_FILTER_SPARSITY=conv1:1 (--prune-filter-sparsity): needs each removed fraction "
         "in (0, 1)"),
        ({"PRUNE_FILTER_SPARSITY": "conv1"},
         "PRUNE_FILTER_SPARSITY=conv1 (--prune-filter-sparsity): item 'conv1' must look like "
         "'layer:fraction'"),
        ({"PRUNE_TEACHER_WEIGHT": "1.5"},
         "PRUNE_TEACHER_WEIGHT=1.5 (--prune-teacher-weight): must be in [0, 1]"),
        ({"PRUNE_FILTER_EPOCHS": "0"},
         "PRUNE_FILTER_EPOCHS=0 (--prune-filter-epochs): must be >= 1"),
        ({"PRUNE_BLOCK_SIZE": "0x4"},
         "PRUNE_BLOCK_SIZE=0x4 (--prune-block-size): must be two integers >= 1"),
        ({"PRUNE_LOOP": "keras"}, "PRUNE_LOOP=keras (--prune-loop): must be one of fit, custom"),
        ({"PRUNE_EPOCHS": "0"}, "PRUNE_EPOCHS=0 (--prune-epochs): must be >= 1"),
        ({"KERAS_API": "resnet"}, "KERAS_API=resnet (--keras-api): must be one of "
         "functional, sequential"),
        ({"PRUNE_LEARNING_RATE": "fast"},
         "PRUNE_LEARNING_RATE=fast (--prune-learning-rate): must be a number"),
    ],
)
def test_invalid_pruning_options_fail_when_the_options_are_read(environ, message):
    # Before TensorFlow is imported: the layer checks run on pruning.architecture's table.
    with pytest.raises(configs.SettingsError) as raised:
        configs.load_config([], environ=environ)
    assert str(raised.value).startswith(message)


def test_valid_selections_build(tmp_path):
    environ = {"PRUNE_M_BY_N": "2:4", "PRUNE_LAYERS": "conv2,dense1",
               "PIPELINE_ROOT": str(tmp_path)}
    pipeline = create_pipeline(configs.load_config([], environ=environ))
    [prune_trainer] = [c for c in pipeline.components if c.id == "PruneTrainer"]
    pruning = json.loads(prune_trainer.exec_properties["pruning"])
    assert pruning["sparsity_m_by_n"] == [2, 4]
    assert pruning["layer_names"] == ["conv2", "dense1"]
    assert pruning["layer_sparsity"] == []  # m:n fixes every layer at m/n


def test_the_model_shape_catches_layers_the_architecture_lacks():
    with pytest.raises(InvalidParam, match=r"layer_names must name prunable layers of model "
                       r"'cnn_functional': conv1, conv2, conv3, dense1, logits, got 'dense2'"):
        make_component(pruning=PRUNING.__class__(layer_names=("dense2",)),
                       model=ModelParams(width=8, dense_units=16))


def test_the_model_shape_catches_a_layer_that_cannot_shrink():
    with pytest.raises(InvalidParam, match=r"names 'logits', a layer whose outputs are the "
                                           r"model's own"):
        make_component(filters=FilterParams((("logits", 0.5),)),
                       model=ModelParams(width=8, dense_units=16))


def test_weight_pruning_is_checked_against_the_narrowed_shape():
    # dense1 keeps 16 - 12 = 4 units: a 1x8 block no longer divides its kernel.
    with pytest.raises(InvalidParam, match=r"must divide the kernel \(400, 4\) of layer 'dense1'"):
        make_component(filters=FilterParams((("dense1", 0.75),)),
                       pruning=PRUNING.__class__(block_size=(1, 8), layer_names=("dense1",)),
                       model=ModelParams(width=8, dense_units=16))


def test_the_pipeline_hands_its_structured_pruning_to_the_prune_trainer(tmp_path):
    environ = {"PRUNE_FILTER_SPARSITY": "conv2:0.5,dense1:0.75", "PRUNE_TEACHER_WEIGHT": "0.2",
               "PIPELINE_ROOT": str(tmp_path)}
    pipeline = create_pipeline(configs.load_config([], environ=environ))
    [prune_trainer] = [c for c in pipeline.components if c.id == "PruneTrainer"]
    filters = FilterParams.from_json(prune_trainer.exec_properties["filters"])
    assert filters.filter_sparsity == (("conv2", 0.5), ("dense1", 0.75))
    assert filters.teacher_weight == 0.2
    # The weight-pruning targets default to the narrowed model's.
    pruning = json.loads(prune_trainer.exec_properties["pruning"])
    assert pruning["layer_sparsity"] == [list(pair) for pair in architecture.NARROW_LAYER_SPARSITY]


def test_parameters_round_trip_through_exec_properties():
    component = make_component()
    assert PRUNING.from_json(component.exec_properties["pruning"]) == PRUNING
    assert json.loads(component.exec_properties["training"])["epochs"] == TRAINING.epochs
