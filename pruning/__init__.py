"""Plain Keras/TF pruning library: parameters, the model, training, pruning, compression.

No TFX here: every function works from a notebook. Importing the package puts Keras 2 (tf_keras)
in force, which TensorFlow Model Optimization needs: TensorFlow reads TF_USE_LEGACY_KERAS when
`tf.keras` is first touched, so the variable is set here, the one place every part of the project
imports first.

TensorFlow's C++ log level is set here too, unless the user set it: 2 (errors only) where an
NVIDIA driver is loaded, else 3. Without a driver, TensorFlow's CUDA build logs "failed call to
cuInit" as an error in every process, which a successful run's log should not show; an error
that stops a run reaches Python as an exception with its message either way.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if os.path.exists("/proc/driver/nvidia") else "3")
