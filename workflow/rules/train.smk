# Training: pretrain each source, then one job per target x method x N x seed.
# Only metrics.json is declared: the checkpoint beside it must survive a killed job (Snakemake
# deletes the declared outputs of failed jobs), so a re-run resumes from it.


def source_inputs(w):
    src = PARAMS["sources"][w.source]
    return [
        LAYOUT.prepared_marker(src["dataset"]),
        LAYOUT.split(src["dataset"], src.get("n_per_class"), src["seed"]),
    ]


def source_params(w):
    src = PARAMS["sources"][w.source]
    return canonical({"source": src, "recipe": PARAMS["recipes"].get(src.get("recipe")), "dataset": PARAMS["datasets"][src["dataset"]]})


rule pretrain:
    input:
        source_inputs,
    output:
        f"{RESULTS}/sources/{{source}}/model.pt",
        f"{RESULTS}/sources/{{source}}/metrics.json",
    params:
        source=source_params,
    log:
        "logs/pretrain/{source}.log",
    threads: THREADS
    resources:
        gpu=GPU,
    shell:
        "{L2TWW} pretrain {wildcards.source} > {log} 2>&1"


def run_of(w) -> Run:
    return Run(w.target, w.method, parse_n(w.ntag), int(w.seed))


def train_inputs(w):
    target = PARAMS["targets"][w.target]
    inputs = [LAYOUT.prepared_marker(target["dataset"]), LAYOUT.split(target["dataset"], parse_n(w.ntag), int(w.seed))]
    if PARAMS["methods"][w.method]["kind"] != "scratch":  # scratch runs need no source: they start at once
        inputs += [LAYOUT.source_dir(s) / "model.pt" for s in target["sources"] if s in PARAMS.pretrained_sources()]
    return inputs


def train_params(w):
    """Everything a run's result depends on, so editing one value re-runs only the runs it shapes."""
    target = PARAMS["targets"][w.target]
    method = PARAMS["methods"][w.method]
    return canonical({
        "target": {k: target[k] for k in ("dataset", "arch", "recipe", "sources", "pairs")},
        "method": method,
        "recipe": PARAMS["recipes"][target["recipe"]],
        "dataset": PARAMS["datasets"][target["dataset"]],
        "sources": {s: PARAMS["sources"][s] for s in target["sources"]} if method["kind"] != "scratch" else {},
        "runtime": {k: PARAMS["runtime"][k] for k in ("amp_bf16", "channels_last")},
    })


rule train:
    input:
        train_inputs,
    output:
        f"{RESULTS}/runs/{{target}}/{{method}}/{{ntag}}-s{{seed}}/metrics.json",
    params:
        run=train_params,
        n=lambda w: w.ntag[1:],
    log:
        "logs/train/{target}/{method}/{ntag}-s{seed}.log",
    threads: THREADS
    resources:
        gpu=GPU,
    shell:
        "{L2TWW} train {wildcards.target} {wildcards.method} --n {params.n} --seed {wildcards.seed} > {log} 2>&1"


rule sources_all:
    input:
        [LAYOUT.source_dir(s) / "model.pt" for s in PARAMS.pretrained_sources()],


rule runs_all:
    input:
        [LAYOUT.run_dir(r.relpath) / "metrics.json" for r in RUNS],
