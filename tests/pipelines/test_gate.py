"""The Evaluator's TFMA configuration: what is compared, sliced and gated."""

from __future__ import annotations

import pytest

from pipelines import gate
from pruning.params import GateParams, InvalidParam


def test_candidate_is_compared_with_the_baseline_on_softmax_scores():
    config = gate.make_eval_config(GateParams(0.98, 0.005))
    specs = {spec.name: spec for spec in config.model_specs}
    assert set(specs) == {"candidate", "baseline"}
    assert specs["baseline"].is_baseline and not specs["candidate"].is_baseline
    for spec in specs.values():
        assert (spec.signature_name, spec.label_key, spec.prediction_key) == (
            "serving_default", "label", "scores")
    metrics = [m.class_name for m in config.metrics_specs[0].metrics]
    assert metrics == ["SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
                       "ExampleCount"]
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], ["label"]]


def test_only_the_whole_split_gates_with_both_thresholds():
    config = gate.make_eval_config(GateParams(0.97, 0.002))
    accuracy = config.metrics_specs[0].metrics[0]
    assert not accuracy.HasField("threshold")  # a plain threshold would gate every class slice
    [per_slice] = accuracy.per_slice_thresholds
    assert list(per_slice.slicing_specs) == [gate.OVERALL]
    assert per_slice.threshold.value_threshold.lower_bound.value == 0.97
    change = per_slice.threshold.change_threshold
    assert change.absolute.value == -0.002
    from tensorflow_model_analysis.proto import config_pb2

    assert change.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER


@pytest.mark.parametrize(
    ("args", "message"),
    [((1.2, 0.005), "min_accuracy must be in \\[0, 1\\], got 1.2"),
     ((0.98, -0.1), "max_accuracy_drop must be in \\[0, 1\\], got -0.1")],
)
def test_bad_thresholds_are_refused(args, message):
    with pytest.raises(InvalidParam, match=message):
        GateParams(*args)
