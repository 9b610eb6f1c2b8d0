"""The report: tables (`tables`), the paper's numbers (`paper_numbers`), saliency maps
(`saliency`), the notebooks' shared set-up (`notebook`) and rendering (`render`). It reads one
plain `ReportContext` (what the stages layer resolved from the params, and every run's metrics)
and never a params file."""

# The notebooks (package data), executed by `render` in this order and joined into one HTML page:
# the results (tables, claims, curves), then the learned transfer (where, what, saliency). Two files
# keep each template short. Time and memory (`cost`) are rendered apart, into cost/: they differ
# at every execution, and the report itself must be the same bytes at every rerun.
NOTEBOOKS = ["l2tww_report.py", "l2tww_transfer.py"]
