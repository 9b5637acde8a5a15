"""`python -m pipelines.lineage ...` is `prune-lineage ...`."""

import sys

from pipelines.lineage.cli import main

sys.exit(main())
