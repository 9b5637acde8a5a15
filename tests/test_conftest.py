"""The shared test set-up loads no TensorFlow or TFX: the tests that need neither (options,
parameters, the layer rules) run without paying for them."""

from __future__ import annotations

import subprocess
import sys

from pipelines import configs


def test_the_shared_fixtures_load_no_tensorflow_or_tfx():
    probe = ("import sys; import tests.conftest; "
             "print(sorted(m for m in ('tensorflow', 'tfx', 'tf_keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=configs.PROJECT_ROOT, check=True)
    assert done.stdout.strip() == "[]"
