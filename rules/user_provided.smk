import os

from oeseg.workflow import missing_user_file

# Inputs that the user provides (USER_PROVIDED, filled by each stage): the DAG lists them, and a
# run stops here with a message naming the missing file and what it is. The job runs where
# Snakemake runs (no cluster job for a message) and is not retried: it fails until you add the file.


localrules:
    user_provided_file,


rule user_provided_file:
    output:
        "{user_file}",
    log:
        f"{LOGS}/user_provided/{{user_file}}.log",
    wildcard_constraints:
        # only while missing: a file of yours that exists is never an output, so --forceall keeps it
        user_file=exact_names_regex(path for path in USER_PROVIDED if not os.path.exists(path)),
    retries: 0
    conda:
        "../envs/oeseg.yaml"
    params:
        what=lambda w: USER_PROVIDED[w.user_file],
        missing=lambda w: missing_user_file(w.user_file, USER_PROVIDED[w.user_file]),
    message:
        "{params.missing}"
    script:
        "../scripts/user_provided_file.py"
