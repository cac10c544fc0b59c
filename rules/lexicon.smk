# lexicon stage: one lexicon per vocabulary (LEXICON), built by lexicon.builder:
#   wordnet (offline default): WordNet relations restricted to NOUNS;
#   openai: the paper's LLM prompt (Figure 5) for every noun of NOUNS, answers cached in
#     lexicon.openai.cache_dir, a folder outside the outputs that survives reruns and resumes
#     interrupted runs; calls are throttled by the `llm_api` resource (--resources llm_api=N);
#   paper: the paper's published GPT-4 lexicon, downloaded by the data stage.

LEXICON_BUILDER = config["lexicon"]["builder"]


if LEXICON_BUILDER == "wordnet":

    rule lexicon_wordnet:
        input:
            nouns=NOUNS,
        output:
            LEXICON,
        params:
            builder="wordnet",
        log:
            f"{LOGS}/lexicon/{{vocabulary}}.log",
        benchmark:
            f"{BENCH}/lexicon/{{vocabulary}}.tsv"
        resources:
            mem_mb=3000,
            runtime="20m",
        conda:
            "../envs/oeseg.yaml"
        script:
            "../scripts/lexicon.py"


if LEXICON_BUILDER == "openai":

    rule lexicon_openai:
        input:
            nouns=NOUNS,
        output:
            lexicon=LEXICON,
            summary=f"{OUT}/lexicons/{{vocabulary}}.openai-summary.json",
        params:
            builder="openai",
            openai={k: v for k, v in config["lexicon"]["openai"].items() if k != "cache_dir"},
            cache_dir=config["lexicon"]["openai"]["cache_dir"],
        log:
            f"{LOGS}/lexicon/{{vocabulary}}.log",
        benchmark:
            f"{BENCH}/lexicon/{{vocabulary}}.tsv"
        resources:
            llm_api=1,
            mem_mb=2000,
            runtime="12h",
        conda:
            "../envs/oeseg.yaml"
        script:
            "../scripts/lexicon.py"


if LEXICON_BUILDER == "paper":

    rule lexicon_paper:
        input:
            paper_file=f"{OUT}/downloads/paper/output_semantics_gpt4_{{vocabulary}}.json",
        output:
            LEXICON,
        params:
            builder="paper",
        wildcard_constraints:
            vocabulary="cityscapes|ade20k",
        log:
            f"{LOGS}/lexicon/{{vocabulary}}.log",
        resources:
            mem_mb=1000,
            runtime="5m",
        conda:
            "../envs/oeseg.yaml"
        script:
            "../scripts/lexicon.py"
