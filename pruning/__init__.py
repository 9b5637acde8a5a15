"""Plain Keras/TF pruning library: parameters, the model, training, pruning, compression.

No TFX here: every function works from a notebook. Importing the package puts Keras 2 (tf_keras)
in force, which TensorFlow Model Optimization needs: TensorFlow reads TF_USE_LEGACY_KERAS when
`tf.keras` is first touched, so the variable is set here, the one place every part of the project
imports first.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
