"""A Model artifact carries the model module it was built from: any process can load it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

from components import model_artifact
from pipelines import configs
from pruning.model import modules
from pruning.training.metrics import Metrics

MODULE = textwrap.dedent('''
    import tf_keras as keras

    from pruning import structured


    @keras.utils.register_keras_serializable(package="artifact_test")
    class Doubled(keras.layers.Layer):
        def call(self, x):
            return 2.0 * x


    structured.register_rule(Doubled, structured.PassThrough())


    def build_model(input_shape, num_classes):
        inputs = keras.Input(input_shape)
        x = Doubled(name="doubled")(keras.layers.Conv2D(4, 3, name="conv")(inputs))
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x))
''')


def test_a_fresh_process_loads_a_model_with_the_modules_own_layer_and_rule(tmp_path):
    path = tmp_path / "user_module.py"
    path.write_text(MODULE)
    module = modules.read_source(str(path))
    model = modules.build(module, (8, 8, 1), 3)
    uri = str(tmp_path / "model")
    model_artifact.write_model(uri, model, Metrics(0.5, 1.0, 4), {}, module=module)
    assert model_artifact.module_of(uri) == module
    probe = textwrap.dedent(f'''
        import json, numpy as np
        from components import model_artifact
        from pruning import structured
        model = model_artifact.load_model({uri!r})
        groups = structured.analyze(model)
        print(json.dumps({{"layers": [l.name for l in model.layers],
                           "conv_prunable": groups.group_of_layer("conv").prunable,
                           "out": model(np.ones((1, 8, 8, 1), "float32")).numpy().tolist()}}))
    ''')
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=configs.PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "doubled" in loaded["layers"]
    assert loaded["conv_prunable"]  # the rule the module registers reached the new process
    np.testing.assert_allclose(loaded["out"], model(np.ones((1, 8, 8, 1), "float32")).numpy(),
                               rtol=1e-5)
