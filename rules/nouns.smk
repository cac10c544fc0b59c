# nouns stage: the noun list that lexicons are built from (NOUNS).
# nouns.source: wordnet (WordNet noun lemmas, offline) | tag2text (the tag lists that nouns.tag_list
# names, downloaded by the data stage's generic `download` rule to {OUT}/downloads/<name>).

from oeseg.workflow import noun_list_inputs, noun_list_settings


rule nouns:
    input:
        **noun_list_inputs(config),
    output:
        NOUNS,
    log:
        f"{LOGS}/nouns/nouns.log",
    benchmark:
        f"{BENCH}/nouns/nouns.tsv"
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=2000,
        runtime="10m",
    params:
        settings=noun_list_settings(config),
    script:
        "../scripts/nouns.py"
