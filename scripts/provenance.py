"""Rule provenance: check that every tracked artifact is recorded; prune stale records."""

from oeseg.provenance import finalize_manifest
from oeseg.workflow import rule_step

with rule_step(snakemake):
    finalize_manifest(snakemake.config["results"], snakemake.input)
