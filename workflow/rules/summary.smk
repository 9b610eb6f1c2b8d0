# Aggregate every run of the matrix into results/summary/ (mean ± std over seeds).


rule summarize:
    input:
        JOB_RECORDS,
    output:
        [str(f) for f in LAYOUT.summary_files()],
    params:
        identity=SUMMARY_ID,
    log:
        LOGS + "/summarize.log",
    threads: 1
    shell:
        cli("summarize")
