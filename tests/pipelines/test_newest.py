"""One rule for "newest" (`pipelines.metadata.newest_published`), whoever asks: after a cache hit
on an older artifact, the newest run's output is that older artifact, not the one with the
highest id, for `prune-lineage latest:...`, for `make bench`'s readers and for `make run`'s
summary alike."""

from __future__ import annotations

import pytest
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.pipeline import Pipeline

from pipelines import metadata, nodes, outputs
from pipelines.lineage.queries import Lineage
from pipelines.pipeline import create_components, create_pipeline
from tests.pipelines.support import make_config, node_states

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _run_example_gen(config) -> None:
    full = create_pipeline(config)
    LocalDagRunner().run(Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=full.pipeline_info.pipeline_root,
        components=create_components(config)[:1], enable_cache=True,
        metadata_connection_config=full.metadata_connection_config,
        beam_pipeline_args=full.beam_pipeline_args))


def test_after_a_cache_hit_on_older_examples_every_reader_names_them(
        tmp_path, mnist_manual_dir, prepared_data_dir):
    configs = {limit: make_config(tmp_path, mnist_manual_dir, prepared_data_dir,
                                  EXAMPLE_LIMIT=str(limit)) for limit in (50, 60)}
    for limit in (50, 60, 50):  # the third run is served from the first one's cache
        _run_example_gen(configs[limit])
    config = configs[50]
    assert node_states(config) == {nodes.EXAMPLE_GEN: "CACHED"}
    store = metadata.open_sqlite(config.metadata_path)
    first, second = sorted(store.get_artifacts_by_type("Examples"), key=lambda a: a.id)
    assert metadata.published(first) and metadata.published(second)

    assert metadata.newest_output(store, config.pipeline_name, nodes.EXAMPLES).id == first.id
    assert Lineage(store, config.pipeline_name).resolve("latest:examples").id == first.id
    assert Lineage(store).resolve("latest:examples").id == first.id
    [row] = outputs.newest_outputs(config.metadata_path, config.pipeline_name)
    assert row.uri == first.uri
