# l2tww workflow. Rules are wiring: each calls the `l2tww` CLI; paths (config/layout.py), training
# jobs (Params.run_jobs) and identities (stages/identity.py) come from the package; common.smk only
# adapts them to wildcards (and orders jobs: data first, costly training jobs early).
#
#   snakemake --cores 8 all                                   # the embedded default (params.yaml)
#   snakemake --cores 8 all --configfile workflow/presets/paper.yaml
#   snakemake all --profile workflow/profiles/slurm --configfile workflow/presets/paper.yaml
from snakemake.utils import min_version

min_version("9.0")


# A --configfile on the command line replaces params.yaml instead of merging into it: a preset is
# a whole experiment, and merging would add the embedded targets to it. --config key=value
# overrides apply on top of either.
if not workflow.overwrite_configfiles:

    configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/report.smk"

# Seconds-long jobs that read only JSON: on a cluster they run beside snakemake instead of queueing
# for a node (no effect on a local run).
localrules:
    split_base,
    split,
    summarize,


# After a plain `snakemake ... all`, record the new state in dvc.lock so `dvc status` agrees.
# Skipped inside `dvc repro` (which records itself and holds DVC's lock), outside a DVC repo, and
# under --touch (`l2tww sync`), which runs nothing: a lock it recorded could list a stale output.
onsuccess:
    if dvc_should_commit() and not workflow.touch:
        shell("dvc commit --force --quiet || echo 'l2tww: dvc commit failed; run it by hand to update dvc.lock' >&2")


# A failed job's error, last in Snakemake's output: the final line of each failed job's log.
onerror:
    errors = failed_job_errors(log)
    if errors:
        print("l2tww: failed job(s), the last line of each log:\n" + "\n".join(errors), file=sys.stderr)


rule all:
    input:
        rules.summarize.output,
        rules.report.output,
    default_target: True
