"""The Resolver strategy that feeds PruneTrainer's optional `warmup_checkpoint`.

TFX's `LatestArtifactStrategy` returns None when there is no artifact yet, and the resolver node
then fails, so the first run with warm start on would never prune. This strategy gives the newest
checkpoint when there is one and an empty input otherwise: the first run starts from the baseline,
each later run continues the previous one.
"""

from __future__ import annotations

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.common import resolver


class LatestCheckpointIfAny(resolver.ResolverStrategy):
    def resolve_artifacts(
        self, store: mlmd.MetadataStore, input_dict: dict[str, list[types.Artifact]]
    ) -> dict[str, list[types.Artifact]]:
        del store  # the input channels already hold the candidates
        return {
            key: sorted(artifacts, key=lambda a: a.id, reverse=True)[:1]
            for key, artifacts in input_dict.items()
        }
