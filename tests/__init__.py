"""Tests. Importing `components` here, before any test module, puts Keras 2 in force."""

import components  # noqa: F401
