"""The verdict rule of the claims table: the paper's claims put through the plan's gates.

The plan (params.yaml `claims.plan`, docs/study-plan.md) is fixed before any confirmation seed
runs. It orders the primary rows into gates (statistics/gatekeeping.py: serial gatekeeping, family-wise level
plan.level over EVERY decision it makes) and gives each row an effect (the difference it is powered
to call supported) and a margin (the difference below which it does not matter to a user), with
the reason for each. Per row:

- in a gatekeeper gate: "supported" or "inconclusive" (one-sided, Holm's step inside the gate);
- in the decision gate: supported / contradicted / equivalent / inconclusive, or both "supported
  and equivalent" (real and smaller than the margin), at plan.level / k (statistics/decide.py);
- in a gate not reached (an earlier gate did not pass): "not reached";
- outside every gate: "descriptive": the interval and the p-values are shown, nothing is decided.

Every row with n >= 6 shows the exact sign-flip p beside the t p (flagged where the two fall on
different sides of the row's level). Power (statistics/power.py): from the design SD's upper 95% bound
(plan.design_n seeds), the planned n of a decision row is the smallest with power >= plan.power both
to say "supported" at +effect and "equivalent" at 0; of a gatekeeper row, to say "supported" at
+effect at Holm's strictest step. Each row gives its power at the n it has.

plan.status says what the run is: "confirmation" (seeds never used, the plan committed first),
"re-analysis" (the plan applied to seeds already seen: not a confirmation) or "draft".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from ..statistics import decide, gatekeeping, power, stats

NOT_RUN = "not run"
DESCRIPTIVE = "descriptive"
NOT_REACHED = gatekeeping.NOT_REACHED
PRIMARY = "primary"
DEFAULT_MARGIN = 1.0  # points: the one default margin (rows without their own, `l2tww compare`)
STATUSES = ("confirmation", "re-analysis", "draft")


@dataclass(frozen=True)
class RowPlan:
    """A primary row's plan: what it is powered for and what difference would matter."""

    effect: float  # points: the difference it should call "supported" with plan.power
    margin: float  # points: |A − B| below this does not matter to a user ("equivalent")
    why: str = ""  # the reason for the margin, in the plan's words
    design_n: int | None = None  # the seeds its design SD comes from, where not plan.design_n


@dataclass(frozen=True)
class GatePlan:
    name: str
    test: str  # gatekeeping.GATEKEEPER or gatekeeping.DECISION
    rows: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """params.yaml `claims.plan`: fixed before the confirmation run."""

    level: float = 0.05  # family-wise over every decision of the gates
    power: float = 0.8
    margin: float = DEFAULT_MARGIN  # points: rows without their own (descriptive rows, compare)
    gates: tuple[GatePlan, ...] = ()
    rows: Mapping[str, RowPlan] = field(default_factory=dict)  # row id -> its effect and margin
    design_sd: Mapping[str, float] = field(default_factory=dict)  # row id -> SD of its paired difference
    design_n: int = 10  # the seeds each design SD comes from (its upper bound's df)
    status: str = "confirmation"
    hash: str | None = None  # plan_hash.py: the claims section's hash, recorded in params.yaml

    def margin_of(self, rid: str) -> float:
        row = self.rows.get(rid)
        return row.margin if row else self.margin

    def gate_of(self, rid: str) -> GatePlan | None:
        return next((g for g in self.gates if rid in g.rows), None)


def plan_from(data: Mapping) -> Plan:
    """A Plan from params.yaml's `claims.plan` mapping (the schema has checked the types)."""
    data = dict(data)
    gates = tuple(
        GatePlan(g["name"], g.get("test", gatekeeping.GATEKEEPER), tuple(g["rows"])) for g in data.pop("gates", [])
    )
    rows = {rid: RowPlan(**r) for rid, r in (data.pop("rows", None) or {}).items()}
    return Plan(**{**data, "gates": gates, "rows": rows, "design_sd": dict(data.get("design_sd", {}))})


def plan_problems(plan: Plan) -> list[str]:
    """One line per problem: bad gates, a gated row without its row plan, an unknown status."""
    gates = [gatekeeping.Gate(g.name, g.rows, g.test) for g in plan.gates]
    out = [f"claims.plan.{p}" for p in gatekeeping.validate(gates)]
    out += [
        f"claims.plan.gates ({g.name}): row {r!r} has no entry in claims.plan.rows (effect, margin)"
        for g in plan.gates
        for r in g.rows
        if r not in plan.rows
    ]
    if plan.status not in STATUSES:
        out.append(f"claims.plan.status: {plan.status!r}: expected one of {', '.join(STATUSES)}")
    return out


@dataclass(frozen=True)
class ClaimRow:
    id: str  # "<claim>@n<N>", "gain_grows", or the bare claim for a "not run" row
    claim: str
    comparison: str  # the arms, e.g. "l2tww − scratch on fashion, N=5"
    role: str  # PRIMARY (in a gate) or DESCRIPTIVE
    verdict: str
    reason: str
    gate: str | None = None
    test: str | None = None  # gatekeeping.GATEKEEPER or DECISION for primary rows
    n: int = 0  # paired seeds
    mean: float | None = None
    low: float | None = None  # two-sided interval at the row's level (95% for descriptive rows)
    high: float | None = None
    eq_low: float | None = None  # (1 − 2 level) interval, the one TOST reads
    eq_high: float | None = None
    level: float | None = None  # the level this row was decided at (0: its gate was not reached)
    margin: float | None = None
    effect: float | None = None
    p: float | None = None  # one-sided t p of A − B > 0
    p_less: float | None = None  # one-sided t p of A − B < 0
    p_tost: float | None = None
    p_perm: float | None = None  # exact sign-flip p in the direction of the mean (n >= 6)
    perm_disagrees: bool = False
    planned_n: int | None = None
    power: float | None = None  # at this row's n: to say supported at +effect
    power_equivalent: float | None = None  # at this row's n: to say equivalent at 0 (decision rows)


@dataclass(frozen=True)
class Differences:
    """A claim's paired per-seed differences A − B, before its gate is known."""

    id: str
    claim: str
    comparison: str
    diffs: tuple[float, ...]
    note: str = ""  # how an arm was picked, unpaired seeds


def not_run(cid: str, claim: str, comparison: str, why: str) -> ClaimRow:
    return ClaimRow(cid, claim, comparison, DESCRIPTIVE, NOT_RUN, why)


def p_text(p: float) -> str:
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _powered(rid: str, n: int, test: str, level: float, plan: Plan) -> dict:
    """planned_n and the powers at n of a primary row, with the text saying what the rule asked."""
    sd, row = plan.design_sd.get(rid), plan.rows[rid]
    if sd is None:
        return {"text": "no design SD: no planned n"}
    upper = power.sd_upper(sd, row.design_n or plan.design_n)
    if test == gatekeeping.GATEKEEPER:
        planned = power.planned_n(row.effect, upper, level, plan.power)
        at_n = {"power": power.power_one_sided(n, row.effect, upper, level) if n >= 2 else None}
        how = f"power {plan.power:g} at +{row.effect:g} pt, level {level:.2g}"
    else:
        planned = power.planned_n_decide(row.effect, row.margin, upper, level, plan.power)
        sup, eq = power.power_decide(n, row.effect, row.margin, upper, level) if n >= 2 else (None, None)
        at_n = {"power": sup, "power_equivalent": eq}
        how = (
            f"power {plan.power:g} to say supported at +{row.effect:g} and equivalent at 0 (±{row.margin:g}), "
            f"level {level:.2g}"
        )
    asked = f"more than {power.N_MAX}" if planned is None else str(planned)
    bound = f"SD {upper:.3g} = design SD {sd:g}'s upper 95% bound"
    text = f"the rule asked for {asked} seeds ({how}, {bound}); this run has {n}"
    return {"planned_n": planned, **at_n, "text": text}


def _row(d: Differences, dec: decide.Decision | None, verdict: str, reason: str, role: str, **extra) -> ClaimRow:
    numbers = {}
    if dec is not None:
        numbers = dict(
            n=dec.n, mean=dec.mean, low=dec.low, high=dec.high, eq_low=dec.eq_low, eq_high=dec.eq_high,
            margin=dec.margin, p=dec.p_greater, p_less=dec.p_less, p_tost=dec.p_tost, p_perm=dec.p_sign_flip,
            perm_disagrees=dec.sign_flip_disagrees,
        )  # fmt: skip
    note = "; ".join(filter(None, [reason, d.note]))
    return ClaimRow(d.id, d.claim, d.comparison, role, verdict, note, **numbers, **extra)


def decide_rows(entries: list[Differences], plan: Plan) -> list[ClaimRow]:
    """Every entry's row (see the module docstring), in the entries' order."""
    problems = plan_problems(plan)
    if problems:
        raise ValueError(problems[0])
    by_id = {d.id: d for d in entries}
    gates = [gatekeeping.Gate(g.name, g.rows, g.test) for g in plan.gates]
    results = gatekeeping.gatekeep(
        gates, {r: d.diffs for r, d in by_id.items()}, {r: plan.margin_of(r) for r in by_id}, plan.level
    )
    rows: dict[str, ClaimRow] = {}
    for result in results:
        g = result.gate
        for rid in g.rows:
            if rid not in by_id:
                continue
            d, dec = by_id[rid], result.decisions.get(rid)
            extra = dict(gate=g.name, test=g.test, effect=plan.rows[rid].effect)
            if dec is None:
                why = f"gate {g.name} not reached: an earlier gate did not pass, so no level is left for it"
                shown = decide.decide(d.diffs, plan.margin_of(rid), plan.level) if len(d.diffs) else None
                rows[rid] = _row(d, shown, NOT_REACHED, why, PRIMARY, level=0.0, **extra)
                continue
            level = result.row_levels[rid]
            plan_row = _powered(rid, dec.n, g.test, level, plan)
            reason = dec.reason()
            if dec.verdict not in decide.DECIDED or plan.design_sd.get(rid) is None:
                reason += "; " + plan_row["text"]
            if plan.rows[rid].why:
                reason += f"; margin ±{plan.rows[rid].margin:g}: {plan.rows[rid].why}"
            powers = {k: plan_row.get(k) for k in ("planned_n", "power", "power_equivalent")}
            rows[rid] = _row(d, dec, dec.verdict, reason, PRIMARY, level=level, **extra, **powers)
    for d in entries:
        if d.id not in rows:
            dec = decide.decide(d.diffs, plan.margin_of(d.id), plan.level)
            ci = (
                f"95% CI [{stats.fmt(dec.low)}, {stats.fmt(dec.high)}]"
                if dec.low is not None
                else "1 seed: no interval"
            )
            why = f"outside the plan's gates: no decision ({ci})"
            rows[d.id] = _row(d, dec, DESCRIPTIVE, why, DESCRIPTIVE, level=plan.level)
    return [rows[d.id] for d in entries]


def _rounded(key: str, value):
    if not isinstance(value, float):
        return value
    return (
        float(f"{value:.4g}") if key.startswith("p") or key.startswith("power") or key == "level" else round(value, 4)
    )


def to_json(rows: list[ClaimRow]) -> dict:
    """{claim id: fields} for metrics.json: keyed by the stable id so that `dvc metrics diff` and
    `l2tww compare` line rows up across revisions; points rounded to 4 places, p-values, powers and
    levels to 4 significant digits (a p of 3e-6 stays visible)."""
    return {r.id: {k: _rounded(k, v) for k, v in asdict(r).items() if k != "id"} for r in rows}
