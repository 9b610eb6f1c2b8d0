# Training: pretrain each source, then one `train` job per runtime.runs_per_job seeds of a
# (target, method, N) cell (1: a job per run), whatever that number is: the profiles' `train`
# resources and the priorities apply to every training job.
# A job's output is its record (results/runs/<target>/<method>/n<N>-s<seeds>.json), written last;
# the runs' own files are not rule outputs, so a killed job's finished runs and its checkpoint
# survive (Snakemake deletes the outputs of failed jobs) and the rerun keeps the finished runs.


rule pretrain:
    input:
        source_inputs,
    output:
        PATTERN["source_model"],
        PATTERN["source_metrics"],
    params:
        identity=source_id,
    log:
        LOGS + "/pretrain/{source}.log",
    threads: THREADS
    priority: GATE_PRIORITY
    resources:
        gpu=GPU,
    shell:
        cli("pretrain {wildcards.source}")


rule train:
    input:
        job_inputs,
    output:
        PATTERN["job"],
    params:
        identity=job_identity,
        job=job_tag,
    log:
        LOGS + "/train/{target}/{method}/{ntag}-s{seeds}.log",
    threads: THREADS
    priority: job_priority
    resources:
        gpu=GPU,
        gpu_mem_mb=job_gpu_mem_mb,
        **GPU_CONSTRAINT,
    shell:
        cli("train --job {params.job}")


rule sources_all:
    input:
        [LAYOUT.model(LAYOUT.source_dir(s)) for s in PARAMS.pretrained_sources()],


rule runs_all:
    input:
        JOB_RECORDS,
