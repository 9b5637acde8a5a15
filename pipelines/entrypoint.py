"""What every entry point shares: parse the options, build the pipeline, run it, say how it went.

The options are parsed and checked before TensorFlow and TFX are imported, the pruning options
against the project's CNN's layers too, so a bad one costs well under a second: one line naming
it, exit status 2, no traceback. The data is checked next, by its first records or its TFDS
info (`pipelines.data_check`), and any other model is built or loaded for the data's shape and
checked (`pipelines.model_check`), in seconds, before the pipeline starts, with the same line and
status. A run that fails keeps
TFX's record (the failed execution in ML Metadata, TFX's log) and ends with one line naming the
failed component, the cause and what to do; exit status 1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NoReturn, Protocol

from pipelines import configs, stores

EXIT_BAD_OPTION = 2
EXIT_RUN_FAILED = 1


class DagRunner(Protocol):
    def run(self, pipeline): ...


def fail(prog: str, message: str, status: int = EXIT_BAD_OPTION) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(status)


def load_config_or_exit(prog: str, argv: Sequence[str], description: str,
                        environ: Mapping[str, str] | None = None) -> configs.PipelineConfig:
    """The options, or one line naming the bad one and exit status 2."""
    try:
        return configs.load_config(argv, environ=environ, description=description)
    except configs.SettingsError as error:
        fail(prog, str(error))


def run(make_runner: Callable[[], DagRunner], argv: Sequence[str] | None = None,
        description: str = "", prog: str = "pipelines.local_runner") -> None:
    """Runs the configured pipeline with the runner `make_runner()` returns."""
    argv = sys.argv[1:] if argv is None else argv
    config = load_config_or_exit(prog, argv, description or "Run the pruning pipeline.")
    print(f"Pipeline {config.pipeline_name}: {data_line(config)}, "
          f"gate: accuracy >= {config.gate_params.min_accuracy} and at most "
          f"{config.gate_params.max_accuracy_drop} below the baseline's", flush=True)
    check_store_or_exit(prog, config.metadata_store)
    check_data_and_model_or_exit(prog, config)
    # force: ml_metadata's first log call (in the MySQL check) set up Python's default handler.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_project_info)
    hide_passwords()
    from pipelines import outputs, progress
    from pipelines.pipeline import create_pipeline  # TensorFlow and TFX: seconds of imports

    pipeline = create_pipeline(config)
    progress.report_components([component.id for component in pipeline.components])
    newest_before = outputs.newest_execution_id(config.metadata_store, config.pipeline_name)
    started = time.monotonic()
    try:
        make_runner().run(pipeline)
    except Exception as error:  # TFX has logged it and recorded the execution as failed
        fail(prog, failure_line(config, error), EXIT_RUN_FAILED)

    if outputs.newest_execution_id(config.metadata_store, config.pipeline_name) == newest_before:
        # `tfx pipeline create` calls run() only to capture the pipeline: nothing was executed.
        print(f"Pipeline {config.pipeline_name} built; nothing was run.")
        return
    print(f"\nPipeline {config.pipeline_name} finished in {time.monotonic() - started:.0f} s.")
    print(outputs.format_summary(config.metadata_store, config.pipeline_name))


def data_line(config: configs.PipelineConfig) -> str:
    """What the run reads, as its first line says it."""
    if config.examples_dir:
        return (f"examples_dir {config.examples_dir} (image feature {config.image_feature}, "
                f"label feature {config.label_feature})")
    return (f"dataset {config.dataset}, manual_dir {config.tfds_manual_dir}, "
            f"data_dir {config.tfds_data_dir}")


def check_data_and_model_or_exit(prog: str, config: configs.PipelineConfig,
                                 available: bool = True) -> None:
    """The data, by its first records or its TFDS info (`pipelines.data_check`; with
    `available`, also that a TFDS dataset's files can be had here), then a model other than the
    project's CNN, built or loaded for the data's shape (`pipelines.model_check`), before the
    pipeline starts: one line, exit status 2."""
    from pipelines import data_check, model_check

    try:
        # What the checks print is not the run's: TensorFlow's native libraries log INFO lines
        # as they load (before any option sets their level), Keras and AutoGraph warn about the
        # model being built. The run itself shows what matters of it; here, only the verdict.
        with native_stderr_silenced():
            shape = data_check.check_data(config, available)
            model_check.check_model(config, shape)
    except configs.SettingsError as error:
        fail(prog, str(error))


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null inside (what native code and Python write to
    stderr); exceptions still reach the caller."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def check_store_or_exit(prog: str, store: stores.Store) -> None:
    """A MySQL store is tried before TensorFlow is imported: no server, a wrong password or a
    missing database cost a second, one line and exit status 2. A SQLite file is created."""
    if isinstance(store, stores.MySQLStore):
        from pipelines import metadata

        try:
            metadata.open_mysql(store)
        except metadata.StoreError as error:
            fail(prog, str(error))


# Whose INFO records a run shows: this project's (the trainers' epochs, the exporter's steps).
# TFX, TensorFlow and Beam show warnings and errors; pipelines/progress.py says which component
# runs, from TFX's INFO records, which it reads on its own handler.
PROJECT_LOGGERS = ("pipelines", "components", "pruning")
# Warnings every run gets that ask nothing of the user, so a run's log does not show them:
HARMLESS_WARNINGS = (
    # ML Metadata 1.21 was built without ZetaSQL, so TFX falls back to plain queries
    # (docs/operations.md): the same results, logged for every component.
    "ArtifactQuery.property_predicate is not supported",
    "Fallback to non-ZetaSQL contexts execution query",
    # TFMA loads the Keras model through tf.keras's SavedModel path; the model is TF 2.21's.
    "SavedModel saved prior to TF 2.5 detected",
    # Deprecations inside TFMA and TFX, not in this project's code.
    "is deprecated and will be removed",
)


def _project_info(record: logging.LogRecord) -> bool:
    if record.levelno >= logging.ERROR:
        return True
    if record.levelno >= logging.WARNING:
        message = record.getMessage()
        return not any(harmless in message for harmless in HARMLESS_WARNINGS)
    return record.name.split(".")[0] in PROJECT_LOGGERS


# A password in protobuf text format, as TFX's runners log their ML Metadata ConnectionConfig.
_PASSWORD = re.compile(r'(password:\s*)"(?:[^"\\]|\\.)*"')


class _PasswordFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "password" in message:
            record.msg, record.args = _PASSWORD.sub(r'\1"***"', message), ()
        return True


def hide_passwords() -> None:
    """Masks passwords in what is logged: TFX's LocalDagRunner and BeamDagRunner log the whole
    connection config, MySQL password included. On the `absl` logger (TFX's records) and on
    every handler of the root logger (anything that propagates)."""
    password_filter = _PasswordFilter()
    logging.getLogger("absl").addFilter(password_filter)
    for handler in logging.getLogger().handlers:
        handler.addFilter(password_filter)


def failure_line(config: configs.PipelineConfig, error: BaseException) -> str:
    """'<component> failed: <cause>' from the store and the exception's own last line."""
    from pipelines import outputs

    cause = (str(error).strip().splitlines() or [type(error).__name__])[-1]
    node = outputs.failed_node(config.metadata_store, config.pipeline_name)
    where = f"{node} failed" if node else "the pipeline failed"
    return (f"{where}: {type(error).__name__}: {cause}{_remedy(error)} (TFX's log above has "
            f"the details; ML Metadata: {config.metadata_store.describe()})")


def _remedy(error: BaseException) -> str:
    """The option that gets past a failure of the data, for the failures that have one."""
    from components.anomalies import AnomaliesFoundError
    from pruning.data import CorruptRecordsError

    if isinstance(error, AnomaliesFoundError):
        return f" In this pipeline: {configs.option_setting('stop_on_anomalies', 'false')}."
    if isinstance(error, CorruptRecordsError):
        return (" The ExampleGen's output is served from the cache until it runs again: "
                f"{configs.option_setting('enable_cache', 'false', flag=False)} writes it again.")
    return ""
