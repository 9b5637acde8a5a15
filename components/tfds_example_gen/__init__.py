"""TFDS ExampleGen: a TFDS dataset (MNIST by default) as a standard TFX Examples artifact."""

from components.tfds_example_gen.component import TfdsExampleGen

__all__ = ["TfdsExampleGen"]
