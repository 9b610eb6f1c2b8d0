"""Results across runs. Plain records in, plain values out: nothing here reads params or imports torch.

The paper's claim logic: `claims` (which arms answer which claim), `verdicts` (the plan's gates and
rows applied to them), `diagnostics` (meta-net checks, no verdicts), `plan_hash` (the plan's hash
and first commit). Around them: `cells` (cells and N), `compare` (two result sets, with the claims'
decision rule), `revisions` (reading either side of a comparison), `summary` (the summary files).
The general statistics they apply live apart, in `l2tww.statistics`."""
