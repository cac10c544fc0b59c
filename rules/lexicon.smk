# lexicon stage: one lexicon per vocabulary (LEXICON), built by lexicon.builder:
#   wordnet (offline default): WordNet relations restricted to NOUNS;
#   openai: the paper's LLM prompt (Figure 5) for every noun of NOUNS, answers cached in
#     lexicon.openai.cache_dir, a folder outside the outputs that survives reruns and resumes
#     interrupted runs; calls are throttled by the `llm_api` resource (--resources llm_api=N);
#   paper: the paper's published GPT-4 lexicon, downloaded by the data stage.

from oeseg.workflow import openai_lexicon_settings, synset_files

LEXICON_BUILDER = config["lexicon"]["builder"]
#: vocabulary name -> its synset file (lexicon.synsets): the WordNet senses of its categories
SYNSET_FILE_OF = synset_files(config)


if LEXICON_BUILDER == "wordnet":

    rule lexicon_wordnet:
        input:
            nouns=NOUNS,
            vocabulary_file=lambda w: vocabulary_file(w.vocabulary),
            synsets=lambda w: SYNSET_FILE_OF.get(w.vocabulary, []),
        output:
            LEXICON,
        log:
            f"{LOGS}/lexicon/{{vocabulary}}.log",
        benchmark:
            f"{BENCH}/lexicon/{{vocabulary}}.tsv"
        conda:
            "../envs/oeseg.yaml"
        resources:
            mem_mb=3000,
            runtime="20m",
        params:
            builder="wordnet",
            vocabulary=lambda w: vocabulary_spec(w.vocabulary),
        script:
            "../scripts/lexicon.py"


if LEXICON_BUILDER == "openai":

    rule lexicon_openai:
        input:
            nouns=NOUNS,
            vocabulary_file=lambda w: vocabulary_file(w.vocabulary),
        output:
            lexicon=LEXICON,
            summary=f"{OUT}/lexicons/{{vocabulary}}.openai-summary.json",
        log:
            f"{LOGS}/lexicon/{{vocabulary}}.log",
        benchmark:
            f"{BENCH}/lexicon/{{vocabulary}}.tsv"
        conda:
            "../envs/oeseg.yaml"
        resources:
            llm_api=1,
            mem_mb=2000,
            runtime="12h",
        params:
            builder="openai",
            vocabulary=lambda w: vocabulary_spec(w.vocabulary),
            openai=openai_lexicon_settings(config),
            cache_dir=config["lexicon"]["openai"]["cache_dir"],
        script:
            "../scripts/lexicon.py"


if LEXICON_BUILDER == "paper":

    rule lexicon_paper:
        input:
            paper_file=download_path(OUT, "paper/output_semantics_gpt4_{vocabulary}.json"),
        output:
            LEXICON,
        log:
            f"{LOGS}/lexicon/{{vocabulary}}.log",
        benchmark:
            f"{BENCH}/lexicon/{{vocabulary}}.tsv"
        wildcard_constraints:
            vocabulary="cityscapes|ade20k",
        conda:
            "../envs/oeseg.yaml"
        resources:
            mem_mb=1000,
            runtime="5m",
        params:
            builder="paper",
            vocabulary=lambda w: vocabulary_spec(w.vocabulary),
        script:
            "../scripts/lexicon.py"
