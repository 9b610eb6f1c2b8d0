# Released source weights (the authors' ResNet32, torchvision's ResNet34): one local rule per file,
# so the download runs where snakemake runs (a login node has the network; a GPU node may not) and
# never inside a training job, which only loads the checked file (l2tww.stages.fetch_weights).
from l2tww.stages.fetch_weights import released_files

for _source, _file in released_files(PARAMS).items():

    rule:
        name:
            f"fetch_weights_{_source}"
        output:
            _file,
        log:
            f"{LOGS}/fetch_weights/{_source}.log",
        localrule: True
        priority: GATE_PRIORITY
        shell:
            f"python -m l2tww.stages.fetch_weights --params .snakemake/l2tww/params.yaml {_source} > {{log}} 2>&1"
