# Training: pretrain each source, then one job per target x method x N x seed (or per
# runtime.runs_per_job seeds).
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
    priority: GATE_PRIORITY
    resources:
        gpu=GPU,
    shell:
        "l2tww --params .snakemake/l2tww/params.yaml pretrain {wildcards.source} > {log} 2>&1"


if PARAMS["runtime"]["runs_per_job"] == 1:

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

else:
    # runtime.runs_per_job > 1: one rule per job of several seeds (a rule's outputs must share
    # its wildcards, so several seeds cannot be one wildcard rule), named after its first run.
    # Costlier jobs first (L2T's meta-steps scale with its pairs), so the cheap ones fill the end.
    # A killed job re-runs whole: Snakemake deletes all its outputs, so its finished runs train
    # again; the interrupted one resumes from its checkpoint.
    for job_runs in RUN_JOBS:
        first = job_runs[0]
        spec = PARAMS.method_spec(first.target, first.method)

        rule:
            name:
                f"train_{first.run_id.replace('-', '_')}"
            input:
                sorted({str(f) for r in job_runs for f in run_inputs(r)}),
            output:
                [f"{RESULTS}/runs/{r.relpath}/metrics.json" for r in job_runs],
            params:
                identity=[run_identity(r) for r in job_runs],
                # Bound here: `shell:` is formatted when the job runs, after the loop has moved on.
                runs=f"{first.target} {first.method} --n {n_tag(first.n_per_class)[1:]} --seed {' '.join(str(r.seed) for r in job_runs)}",
            log:
                f"logs/train/{first.relpath}" + (f"-s{job_runs[-1].seed}" if len(job_runs) > 1 else "") + ".log",
            threads: THREADS
            resources:
                gpu=GPU,
            priority: len(spec.pairs) if spec.kind == "l2t" else 0
            shell:
                "l2tww --params .snakemake/l2tww/params.yaml train {params.runs} > {log} 2>&1"


rule sources_all:
    input:
        [LAYOUT.source_dir(s) / "model.pt" for s in PARAMS.pretrained_sources()],


rule runs_all:
    input:
        [LAYOUT.run_dir(r.relpath) / "metrics.json" for r in RUNS],
