"""The pruning pipeline: configuration, `create_pipeline()`, its runners and readers.

Importing it imports `pruning`, which puts Keras 2 (tf_keras) in force.
"""

import pruning  # noqa: F401
