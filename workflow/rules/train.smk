# Training: pretrain each source, then one job per target x method x N x seed.
# Only metrics.json is declared: the checkpoint beside it must survive a killed job (Snakemake
# deletes the declared outputs of failed jobs), so a re-run resumes from it.


rule pretrain:
    input:
        source_inputs,
    output:
        f"{RESULTS}/sources/{{source}}/model.pt",
        f"{RESULTS}/sources/{{source}}/metrics.json",
    params:
        identity=source_id,
    log:
        "logs/pretrain/{source}.log",
    threads: THREADS
    resources:
        gpu=GPU,
    shell:
        "l2tww --params .snakemake/l2tww/params.yaml pretrain {wildcards.source} > {log} 2>&1"


rule train:
    input:
        train_inputs,
    output:
        f"{RESULTS}/runs/{{target}}/{{method}}/{{ntag}}-s{{seed}}/metrics.json",
    params:
        identity=run_id,
        n=lambda w: w.ntag[1:],
    log:
        "logs/train/{target}/{method}/{ntag}-s{seed}.log",
    threads: THREADS
    resources:
        gpu=GPU,
    shell:
        "l2tww --params .snakemake/l2tww/params.yaml train {wildcards.target} {wildcards.method} --n {params.n} --seed {wildcards.seed} > {log} 2>&1"


rule sources_all:
    input:
        [LAYOUT.source_dir(s) / "model.pt" for s in PARAMS.pretrained_sources()],


rule runs_all:
    input:
        [LAYOUT.run_dir(r.relpath) / "metrics.json" for r in RUNS],
