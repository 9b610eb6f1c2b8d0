# Report: execute the papermill notebooks in reports/ on the finished runs and write the HTML
# (code hidden), figures/, plots/ (one CSV per series, for `dvc plots`) and summary.md.
# The notebooks read every run's metrics.json, history.json, transfer.json and model.pt, all
# written before the run's metrics.json, on which summarize depends.


rule report:
    input:
        f"{RESULTS}/summary/summary.csv",
        "reports/l2tww_report.py",
        "reports/l2tww_transfer.py",
        "src/l2tww/report.py",
        "src/l2tww/notebook.py",
        "src/l2tww/saliency.py",
        "src/l2tww/paper.py",
    output:
        f"{REPORTS}/l2tww-report.html",
        f"{REPORTS}/summary.md",
    log:
        "logs/report.log",
    threads: 1
    shell:
        "l2tww --params .snakemake/l2tww/params.yaml report > {log} 2>&1"
