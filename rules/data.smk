# data stage: synthetic demo datasets, downloads, ADE20K and Cityscapes conversion.

from oeseg.data.cityscapes import PACKAGES
from oeseg.workflow import download_pins, fetched_path, folder_dataset_files

SYNTHETIC_DATASETS = datasets_of("synthetic")
# source folder: a dataset already in the panoptic format, provided by the user (README, Dataset format)
USER_PROVIDED.update(folder_dataset_files(config))
check_folder_datasets(config)
DOWNLOADS = config.get("downloads", {})
#: the Cityscapes packages to download: those convert_cityscapes reads, where a dataset needs them
CITYSCAPES_PACKAGES = list(PACKAGES.values()) if datasets_of("cityscapes") else []
#: every download's name under <out>/downloads/ -> its pin (sha256, the config key that pins it)
PINS = download_pins(config)
ADE20K_ARCHIVES = {
    "scene_parsing": download_path(OUT, "ade20k/ADEChallengeData2016.zip"),
    "instances": download_path(OUT, "ade20k/annotations_instance.tar"),
}
CITYSCAPES_ARCHIVES = {key: download_path(OUT, f"cityscapes/{package}") for key, package in PACKAGES.items()}
#: a split's folder with its wildcards (split_dir), and the files every split rule writes in it
SPLIT_DIR = split_dir("{dataset}", "{split}")
SPLIT_OUTPUTS = {
    "json": f"{SPLIT_DIR}/panoptic.json",
    "panoptic": directory(f"{SPLIT_DIR}/panoptic"),
    "images": directory(f"{SPLIT_DIR}/images"),
}


rule demo_data:
    input:
        [split_json(d, s) for d in SYNTHETIC_DATASETS for s in config["datasets"][d]["splits"]],


rule downloads:
    """Every download of the config: run it where the network is (a login node) before a cluster
    run whose compute nodes have none."""
    input:
        [download_path(OUT, name) for name in PINS],


rule generate_synthetic:
    output:
        **SPLIT_OUTPUTS,
        regions=f"{SPLIT_DIR}/regions.jsonl",
    log:
        f"{LOGS}/generate_synthetic/{{dataset}}/{{split}}.log",
    benchmark:
        f"{BENCH}/generate_synthetic/{{dataset}}/{{split}}.tsv"
    wildcard_constraints:
        dataset=exact_names_regex(SYNTHETIC_DATASETS),
        split=exact_names_regex(sorted({s for d in SYNTHETIC_DATASETS for s in config["datasets"][d]["splits"]})),
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=2000,
        runtime="30m",
    params:
        vocabulary=lambda w: vocabulary_of(w.dataset),
        n_images=lambda w: config["datasets"][w.dataset]["splits"][w.split],
        image_size=lambda w: config["datasets"][w.dataset]["image_size"],
        seed=lambda w: config["datasets"][w.dataset]["seed"],
        descriptions=lambda w: config["datasets"][w.dataset]["descriptions_per_region"],
    script:
        "../scripts/generate_synthetic.py"


# A download is two jobs: a fetch (rule download or download_cityscapes) that depends on the source
# only, and verify_download, that depends on the pin only: a changed pin hashes the fetched file
# again (no request), a changed URL fetches it again. The fetch reads the pin from the config (not a
# param, so that it does not rerun the fetch) to resume safely and to check what it downloaded.


rule download:
    output:
        fetched_path(OUT, "{name}"),
    log:
        f"{LOGS}/download/{{name}}.log",
    benchmark:
        f"{BENCH}/download/{{name}}.tsv"
    wildcard_constraints:
        name=exact_names_regex(DOWNLOADS),
    # the downloader resumes dropped transfers itself; a wrong checksum would only fail again
    retries: 0
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=1000,
        runtime="6h",
    params:
        url=lambda w: DOWNLOADS[w.name]["url"],
        verified=download_path(OUT, "{name}"),
    script:
        "../scripts/download.py"


rule download_cityscapes:
    output:
        fetched_path(OUT, "cityscapes/{package}"),
    log:
        f"{LOGS}/download_cityscapes/{{package}}.log",
    benchmark:
        f"{BENCH}/download_cityscapes/{{package}}.tsv"
    wildcard_constraints:
        package=exact_names_regex(CITYSCAPES_PACKAGES),
    # the downloader resumes dropped transfers itself; a wrong checksum would only fail again
    retries: 0
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=1000,
        runtime="6h",
    params:
        verified=download_path(OUT, "cityscapes/{package}"),
    script:
        "../scripts/download_cityscapes.py"


rule verify_download:
    input:
        fetched_path(OUT, "{name}"),
    output:
        download_path(OUT, "{name}"),
    log:
        f"{LOGS}/verify_download/{{name}}.log",
    benchmark:
        f"{BENCH}/verify_download/{{name}}.tsv"
    wildcard_constraints:
        name=exact_names_regex(PINS),
    # a wrong checksum would only fail again
    retries: 0
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=500,
        runtime="1h",
    params:
        sha256=lambda w: PINS[w.name].sha256,
        setting=lambda w: PINS[w.name].setting,
    script:
        "../scripts/verify_download.py"


rule convert_ade20k:
    input:
        **ADE20K_ARCHIVES,
    output:
        **SPLIT_OUTPUTS,
        semantic=directory(f"{SPLIT_DIR}/semantic"),
    log:
        f"{LOGS}/convert_ade20k/{{dataset}}/{{split}}.log",
    benchmark:
        f"{BENCH}/convert_ade20k/{{dataset}}/{{split}}.tsv"
    wildcard_constraints:
        dataset=exact_names_regex(datasets_of("ade20k")),
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=4000,
        runtime="3h",
    params:
        max_images=lambda w: config["datasets"][w.dataset].get("max_images"),
    script:
        "../scripts/convert_ade20k.py"


rule convert_cityscapes:
    input:
        **CITYSCAPES_ARCHIVES,
    output:
        **SPLIT_OUTPUTS,
    log:
        f"{LOGS}/convert_cityscapes/{{dataset}}/{{split}}.log",
    benchmark:
        f"{BENCH}/convert_cityscapes/{{dataset}}/{{split}}.tsv"
    wildcard_constraints:
        dataset=exact_names_regex(datasets_of("cityscapes")),
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=4000,
        runtime="3h",
    params:
        max_images=lambda w: config["datasets"][w.dataset].get("max_images"),
    script:
        "../scripts/convert_cityscapes.py"
