"""What every runner shares: parse the config, build the pipeline, run it, say where outputs are."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Protocol

from pipelines import configs, outputs
from pipelines.pipeline import create_pipeline


class DagRunner(Protocol):
    def run(self, pipeline): ...


def run(runner: DagRunner, argv: Sequence[str] | None = None, description: str = "") -> None:
    """Runs the configured pipeline with `runner` (LocalDagRunner, BeamDagRunner, ...)."""
    argv = sys.argv[1:] if argv is None else argv
    config = configs.load_config(argv, description=description or "Run the pruning pipeline.")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("absl").setLevel(logging.INFO)
    print(f"Pipeline {config.pipeline_name}: dataset {config.dataset}, "
          f"manual_dir {config.resolved_manual_dir}, data_dir {config.tfds_data_dir}", flush=True)
    started = time.monotonic()
    runner.run(create_pipeline(config))
    if not os.path.isfile(config.resolved_metadata_path):
        # `tfx pipeline create` calls run() only to capture the pipeline: nothing was executed.
        print(f"Pipeline {config.pipeline_name} built; nothing was run.")
        return
    print(f"\nPipeline {config.pipeline_name} finished in {time.monotonic() - started:.0f} s.")
    print(outputs.format_summary(config.resolved_metadata_path, config.pipeline_name))
