# Report: execute the papermill notebooks of l2tww.report on the finished runs and write the HTML
# (code hidden), figures/, plots/ (one CSV per series, for `dvc plots`) and summary.md.
# The notebooks read every run's metrics.json, history.json, transfer.json and model.pt, all
# written before the run's metrics.json, on which summarize depends. The report's code (tables,
# notebooks, saliency) is part of its identity, not an input file: a comment edit re-renders nothing.
# The training jobs' records are inputs as well: a clone has the git-tracked summary but not the
# runs, and the report must then wait for them (Snakemake does not re-make the missing inputs of a
# job whose outputs are present, so the summary alone would not bring them back).


rule report:
    input:
        str(LAYOUT.summary_outputs()["summary"]),
        JOB_RECORDS,
        FOLDER_METAS,
    output:
        [str(f) for f in LAYOUT.report_files()],
    params:
        identity=REPORT_ID,
    log:
        LOGS + "/report.log",
    threads: 1
    shell:
        cli("report --made-from " + MADE_FROM)
