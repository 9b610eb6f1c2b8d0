"""Results across runs. Plain records in, plain values out: nothing here reads params or imports torch.

General statistics, no claim of the paper named: `stats` (means, t-intervals, paired differences,
Holm), `decide` (one paired comparison decided two-sidedly with a margin), `gatekeeping` (serial
gatekeeping over ordered gates), `power` (the seed-count rule), `permutation` (sign-flip, Kendall's
W), `plan_hash` (the plan's hash and first commit).

The paper's claim logic: `claims` (which arms answer which claim), `verdicts` (the plan's gates and
rows applied to them), `diagnostics` (meta-net checks, no verdicts). Around them: `cells` (cells and
N), `compare` (two result sets, with `decide`'s rule), `summary` (the summary files)."""
