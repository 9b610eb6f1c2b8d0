# Aggregate every run of the matrix into results/summary/ (mean ± std over seeds).


rule summarize:
    input:
        [LAYOUT.run_dir(r.relpath) / "metrics.json" for r in RUNS],
    output:
        f"{RESULTS}/summary/summary.csv",
        f"{RESULTS}/summary/runs.csv",
        f"{RESULTS}/summary/cost.csv",
        f"{RESULTS}/summary/lowdata.csv",
        f"{RESULTS}/summary/metrics.json",
    params:
        identity=SUMMARY_ID,
    log:
        "logs/summarize.log",
    threads: 1
    shell:
        "l2tww --params .snakemake/l2tww/params.yaml summarize > {log} 2>&1"
