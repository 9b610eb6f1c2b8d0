"""General statistics over paired seeds: no claim of the paper named, no l2tww module outside this
package imported (tests/test_layers.py), plain numbers in and out. The paper's claim logic that
applies them lives in `results/`. (The standard library's `statistics` is a different module;
`import statistics` still reaches it.)

`stats` (means, t-intervals, paired differences, one-sided t-tests, Holm, TOST), `decide` (one
paired comparison decided two-sidedly with a margin), `gatekeeping` (serial gatekeeping over
ordered gates), `power` (the seed-count rule), `permutation` (sign-flip, Kendall's W).

scipy is imported by the functions that call it, not by these modules: config validation imports
them to check a claims plan, so every job (a training job included) would otherwise import
scipy.stats without computing a statistic: 0.49 CPU-s after torch, 0.2 net of what a training job
imports anyway (benchmarks/bench_embedded.py)."""
