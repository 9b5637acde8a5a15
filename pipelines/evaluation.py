"""The Evaluator's TFMA configuration: the gate between pruning and pushing.

The pruned model is the candidate, the Trainer's model the baseline, both through their
`serving_default` signature (serialized tf.Examples in, softmax `scores` out). The model is blessed
only when its accuracy on the eval split is at least `min_accuracy` AND it is at most
`max_accuracy_drop` below the baseline's, both over the whole eval split. The per-class slices
are computed and reported but do not gate: a plain `threshold` would apply to every slice, and
one class of ~1,000 examples moves by more than the overall 0.5 pp from a handful of images
(measured: class 4 at -0.71 pp while the whole split was at -0.13 pp).
"""

from __future__ import annotations

from tensorflow_model_analysis.proto import config_pb2

from pruning import data

CANDIDATE = "candidate"
BASELINE = "baseline"
OVERALL = config_pb2.SlicingSpec()  # the whole eval split


def make_eval_config(min_accuracy: float, max_accuracy_drop: float) -> config_pb2.EvalConfig:
    if not 0 <= min_accuracy <= 1:
        raise ValueError(f"min_accuracy must be in [0, 1], got {min_accuracy}")
    if not 0 <= max_accuracy_drop <= 1:
        raise ValueError(f"max_accuracy_drop must be in [0, 1], got {max_accuracy_drop}")
    model_spec = {"signature_name": "serving_default", "label_key": data.LABEL_KEY,
                  "prediction_key": "scores"}
    gate = config_pb2.MetricThreshold(
        value_threshold=config_pb2.GenericValueThreshold(lower_bound={"value": min_accuracy}),
        change_threshold=config_pb2.GenericChangeThreshold(
            direction=config_pb2.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -max_accuracy_drop},
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
        slicing_specs=[OVERALL, config_pb2.SlicingSpec(feature_keys=[data.LABEL_KEY])],
        metrics_specs=[
            config_pb2.MetricsSpec(metrics=[
                accuracy,
                config_pb2.MetricConfig(class_name="SparseCategoricalCrossentropy"),
                config_pb2.MetricConfig(class_name="ExampleCount"),
            ])
        ],
    )
