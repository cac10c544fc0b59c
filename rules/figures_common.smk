# figures stage: helper functions of rules/figures.smk (config lookups and input functions).

FIG = config["figures"]
MAPPING_OF_TABLE = FIG["mapping"]


def report_file(path, caption, category, **labels):
    """path as a report() output captioned by report/<caption>.rst; labels, if any, plus its format."""
    if labels:
        labels["format"] = path.rsplit(".", 1)[1].upper()
    return report(path, caption=f"../report/{caption}.rst", category=category, labels=labels or None)


def report_outputs(stem, caption, category, formats, **labels):
    """The named outputs {format: stem.format} of a table or figure rule, each a report_file."""
    return {ext: report_file(f"{stem}.{ext}", caption, category, **labels) for ext in formats}


#: the paper's figures under results/figures/ (targets of `all`, tracked artifacts): each rule that
#: declares its outputs with figure_outputs adds its files
FIGURE_FILES = []


def figure_outputs(name, folder=f"{RESULTS}/figures", caption=None, category="Figures"):
    """A figure's outputs pdf and png (folder/name.{pdf,png}), in the report with its number as label;
    those under results/figures/ join FIGURE_FILES."""
    outputs = report_outputs(
        f"{folder}/{name}", caption or name, category, ("pdf", "png"), figure=name.removeprefix("fig")
    )
    if folder == f"{RESULTS}/figures":
        FIGURE_FILES.extend(str(path) for path in outputs.values())
    return outputs


def paper_study_outputs(name):
    """A figure's outputs from the paper's published human study (results/paper_study/)."""
    return figure_outputs(name, f"{RESULTS}/paper_study", f"paper_{name}", "Paper's human study")


def method_labels(methods):
    """(name, label) of methods, for tables and legends."""
    return [(m, config["methods"][m]["label"]) for m in methods]


def method_groups(methods):
    """method -> group (`methods.<name>.group`) of the methods that have one: Table 1's rules."""
    return {m: config["methods"][m]["group"] for m in methods if "group" in config["methods"][m]}


def dataset_labels(datasets):
    """(name, label) of datasets; labels from figures.dataset_labels, else the name."""
    return [(d, FIG.get("dataset_labels", {}).get(d, d)) for d in datasets]
