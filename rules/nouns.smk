# nouns stage: the noun list that lexicons are built from (NOUNS).
# nouns.source: wordnet (WordNet noun lemmas, offline) | tag2text (the Tag2Text tag list, downloaded
# by the data stage's generic `download` rule to {OUT}/downloads/<nouns.tag_list>).

NOUNS_TAG_LIST = [f"{OUT}/downloads/{config['nouns']['tag_list']}"] if config["nouns"]["source"] == "tag2text" else []


rule nouns:
    input:
        tag_list=NOUNS_TAG_LIST,
        vocabulary_files=list(VOCABULARY_FILES.values()) if config["nouns"]["category_names"] else [],
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
        source=config["nouns"]["source"],
        min_wordnet_count=config["nouns"]["min_wordnet_count"],
        vocabularies=(
            sorted({d["vocabulary"] for d in config["datasets"].values()}) if config["nouns"]["category_names"] else []
        ),
    script:
        "../scripts/nouns.py"
