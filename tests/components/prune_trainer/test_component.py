"""PruneTrainer's parameters are checked when the pipeline is built; errors name the value."""

from __future__ import annotations

import json

import pytest

from pipelines import configs
from pipelines.pipeline import create_pipeline
from pruning import models
from tests.components.prune_trainer.helpers import PRUNING, TRAINING, make_component


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PRUNE_FINAL_SPARSITY": "1.0"}, r"final_sparsity must be in \[0, 1\), got 1.0"),
        ({"PRUNE_INITIAL_SPARSITY": "-0.1"}, r"initial_sparsity must be in \[0, 1\), got -0.1"),
        ({"PRUNE_LAYER_SPARSITY": "dense1:1.5"},
         r"layer_sparsity\['dense1'\] must be in \[0, 1\), got 1.5"),
        ({"PRUNE_BEGIN_STEP": "100", "PRUNE_END_STEP": "100"},
         "end_step must be > begin_step, got end_step=100, begin_step=100"),
        ({"PRUNE_SCHEDULE": "cubic"}, "Unknown schedule 'cubic'"),
        ({"PRUNE_LAYERS": "conv9"}, r"No prunable layer named \['conv9'\]"),
        ({"PRUNE_LAYER_TYPES": "LSTM"}, r"Unknown prunable layer type\(s\) \['LSTM'\]"),
        ({"PRUNE_LAYER_SPARSITY": "dense9:0.9"}, r"layer_sparsity names \['dense9'\]"),
        ({"PRUNE_LAYER_SPARSITY": "dense1=0.9"}, "must look like 'layer:sparsity'"),
        ({"PRUNE_M_BY_N": "4:4"}, "sparsity_m_by_n needs 1 <= m < n, got 4:4"),
        ({"PRUNE_M_BY_N": "2:4"}, "needs the input channels of layer 'conv1'"),
        ({"PRUNE_M_BY_N": "2-4"}, "PRUNE_M_BY_N='2-4' must look like 'a:b'"),
        ({"PRUNE_BLOCK_SIZE": "3x1", "PRUNE_LAYERS": "dense1"},
         r"block_size \(3, 1\) does not divide the kernel \(1600, 256\) of layer 'dense1'"),
        ({"PRUNE_BLOCK_SIZE": "0x4"}, r"block_size must be two integers >= 1, got \(0, 4\)"),
        ({"PRUNE_LOOP": "keras"}, "Unknown training loop 'keras'"),
        ({"PRUNE_EPOCHS": "0"}, "epochs must be >= 1, got 0"),
        ({"ARCHITECTURE": "resnet"}, "Unknown architecture 'resnet'"),
        ({"PRUNE_LEARNING_RATE": "fast"}, "PRUNE_LEARNING_RATE='fast' is not a number"),
    ],
)
def test_invalid_pruning_options_fail_when_the_pipeline_is_built(environ, message):
    with pytest.raises(ValueError, match=message):
        create_pipeline(configs.load_config([], environ=environ))


def test_valid_selections_build(tmp_path):
    environ = {"PRUNE_M_BY_N": "2:4", "PRUNE_LAYERS": "conv2,dense1",
               "PIPELINE_ROOT": str(tmp_path)}
    pipeline = create_pipeline(configs.load_config([], environ=environ))
    [prune_trainer] = [c for c in pipeline.components if c.id == "PruneTrainer"]
    pruning = json.loads(prune_trainer.exec_properties["pruning"])
    assert pruning["sparsity_m_by_n"] == [2, 4]
    assert pruning["layer_names"] == ["conv2", "dense1"]
    assert pruning["layer_sparsity"] == []  # m:n fixes every layer at m/n


def test_reference_model_catches_layers_the_architecture_lacks():
    with pytest.raises(ValueError, match=r"No prunable layer named \['dense2'\]"):
        make_component(pruning=PRUNING.__class__(layer_names=("dense2",)),
                       reference_model=models.build_model(width=8, dense_units=16))


def test_parameters_round_trip_through_exec_properties():
    component = make_component()
    assert PRUNING.from_json(component.exec_properties["pruning"]) == PRUNING
    assert json.loads(component.exec_properties["training"])["epochs"] == TRAINING.epochs
