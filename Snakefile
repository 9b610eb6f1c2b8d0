# l2tww workflow. Rules are wiring: each calls the `l2tww` CLI; all logic lives in src/l2tww.
#
#   snakemake --cores 8 all                                   # the embedded default (params.yaml)
#   snakemake --cores 8 --configfile workflow/presets/paper.yaml all
#   snakemake --profile workflow/profiles/slurm --configfile workflow/presets/paper.yaml all
from snakemake.utils import min_version

min_version("9.0")


# A --configfile on the command line replaces params.yaml instead of merging into it: a preset is
# a whole experiment, and merging would add the embedded targets to it.
if not config:

    configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        rules.summarize.output,
        rules.report.output,
    default_target: True
