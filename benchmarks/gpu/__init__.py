"""The parts of the GPU acceptance script (benchmarks/gpu_smoke.py, docs/gpu.md): the time cap
(budget), what every row builds on (setting), and the rows: parity and exact-vs-fast agreement
(parity), s/iter and memory at 32 px and 224 px (speed), `l2tww train` end to end and the
deterministic resume (endtoend); the table (table)."""
