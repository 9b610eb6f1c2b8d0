"""Results across runs: cells and N (`cells`), seed statistics (`stats`), the claims table
(`claims`), comparisons of two result sets (`compare`) and the summary files (`summary`).
Plain records in, plain values out: nothing here reads params or imports torch."""
