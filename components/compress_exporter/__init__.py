"""CompressExporter: deployable files of the baseline and pruned models, measured, and a report."""

from components.compress_exporter.component import CompressExporter
from components.compress_exporter.spec import CompressionReport

__all__ = ["CompressExporter", "CompressionReport"]
