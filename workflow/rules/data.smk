# Data: prepare each dataset, then the base split and the N-per-class subsets (spec §5-6).


rule prepare:
    output:
        PATTERN["prepared"],
    params:
        identity=prepare_id,
    log:
        LOGS + "/prepare/{dataset}.log",
    threads: 1
    priority: GATE_PRIORITY
    shell:
        cli("prepare {wildcards.dataset}")


rule split_base:
    input:
        PATTERN["prepared"],
    output:
        PATTERN["base_split"],
    params:
        identity=split_id,
    log:
        LOGS + "/split/{dataset}-base.log",
    threads: 1
    priority: GATE_PRIORITY
    shell:
        cli("split {wildcards.dataset}")


rule split:
    input:
        PATTERN["base_split"],
    output:
        PATTERN["split"],
    params:
        identity=split_id,
        n=lambda w: w.ntag[1:],
    log:
        LOGS + "/split/{dataset}-{ntag}-s{seed}.log",
    threads: 1
    priority: GATE_PRIORITY
    shell:
        cli("split {wildcards.dataset} --n {params.n} --seed {wildcards.seed}")


rule data_all:
    input:
        [LAYOUT.split(d, n, s) for d, n, s in PARAMS.splits_needed()],
