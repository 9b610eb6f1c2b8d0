"""The report: tables (`tables`), the paper's numbers (`paper_numbers`), saliency maps
(`saliency`), the notebooks' shared set-up (`notebook`) and rendering (`render`). It reads one
plain `ReportContext` (what the stages layer resolved from the params, and every run's metrics)
and never a params file."""
