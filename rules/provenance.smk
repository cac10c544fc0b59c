# provenance stage. Each rule's script records its tracked artifacts (outputs under RESULTS) in
# PROVENANCE when it finishes (oeseg.workflow.rule_step, under a file lock). This last rule runs
# once every tracked artifact exists: it checks that each one is recorded with its current sha256
# and drops records of artifacts that no longer exist. PROVENANCE is an update() output: Snakemake
# keeps the records that the jobs wrote (and restores them if this rule fails).

TRACKED_ARTIFACTS = [*TABLE1_FILES, *FIGURE_FILES, HUMAN_STUDY_PAGE]


rule provenance:
    input:
        TRACKED_ARTIFACTS,
    output:
        update(PROVENANCE),
    log:
        f"{LOGS}/provenance.log",
    conda:
        "../envs/oeseg.yaml"
    resources:
        cpus_per_task=1,
        mem_mb=1000,
        runtime="10m",
    script:
        "../scripts/provenance.py"
