"""Custom TFX components of the pruning pipeline.

Importing this package puts Keras 2 (tf_keras) in force: TensorFlow Model Optimization needs it, and
TensorFlow reads TF_USE_LEGACY_KERAS when `tf.keras` is first touched.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
