"""The gate between pruning and pushing: the Evaluator's TFMA configuration.

The pruned model is the candidate, the Trainer's model the baseline, both through their
`serving_default` signature (serialized tf.Examples in, softmax `scores` out). The model is blessed
only when its accuracy on the eval split is at least `gate.min_accuracy` AND it is at most
`gate.max_accuracy_drop` below the baseline's, both over the whole eval split. The per-class
slices are computed and reported but do not gate: a plain `threshold` would apply to every slice,
and one class of about 1,000 examples moves by more than the whole split from a handful of
images (docs/design.md, "The gate: whole split and per-dataset thresholds").
"""

from __future__ import annotations

from tensorflow_model_analysis.proto import config_pb2

from pruning import data
from pruning.params import GateParams

CANDIDATE = "candidate"
BASELINE = "baseline"
OVERALL = config_pb2.SlicingSpec()  # the whole eval split


def make_eval_config(gate: GateParams, label_key: str = data.LABEL_KEY
                     ) -> config_pb2.EvalConfig:
    """The gate on the Examples' label feature `label_key` (the data's)."""
    model_spec = {"signature_name": "serving_default", "label_key": label_key,
                  "prediction_key": "scores"}
    gate = config_pb2.MetricThreshold(
        value_threshold=config_pb2.GenericValueThreshold(
            lower_bound={"value": gate.min_accuracy}),
        change_threshold=config_pb2.GenericChangeThreshold(
            direction=config_pb2.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -gate.max_accuracy_drop},
        ),
    )
    accuracy = config_pb2.MetricConfig(
        class_name="SparseCategoricalAccuracy",
        per_slice_thresholds=[config_pb2.PerSliceMetricThreshold(
            slicing_specs=[OVERALL], threshold=gate)],
    )
    return config_pb2.EvalConfig(
        model_specs=[
            config_pb2.ModelSpec(name=CANDIDATE, **model_spec),
            config_pb2.ModelSpec(name=BASELINE, is_baseline=True, **model_spec),
        ],
        slicing_specs=[OVERALL, config_pb2.SlicingSpec(feature_keys=[label_key])],
        metrics_specs=[
            config_pb2.MetricsSpec(metrics=[
                accuracy,
                config_pb2.MetricConfig(class_name="SparseCategoricalCrossentropy"),
                config_pb2.MetricConfig(class_name="ExampleCount"),
            ])
        ],
    )
