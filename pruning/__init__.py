"""Plain Keras/TF pruning library: models, pruning parameters, pruning, sparsity, training loops.

No TFX here: every function works from a notebook. Importing the package puts Keras 2 (tf_keras)
in force, which TensorFlow Model Optimization needs.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
