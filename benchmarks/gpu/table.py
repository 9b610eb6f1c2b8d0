"""The acceptance script's one table: a line per row (status, s/iter, x scratch, peak MB, what it
found), then what was not reached and the verdict."""

from __future__ import annotations


def _num(value, fmt: str, width: int) -> str:
    return f"{value:>{width}{fmt}}" if isinstance(value, (int, float)) else f"{'':>{width}}"


def _errors(e: dict) -> str:
    return (
        f"target {e['target_max_rel']:.1e}, meta {e['meta_max_rel']:.1e}, "
        f"hypergradient rel {e['hyper_norm_rel']:.1e} cos {e['hyper_cosine']:.4f}"
    )


def detail(row: dict) -> str:
    """What a row found, in words and numbers."""
    if "message" in row:
        return row["message"]
    name = row["row"]
    if name == "precision probe":
        f, t = row["fp32"], row["tf32"]
        return (
            f"rel. error vs float64, fp32 (checked <= {row['tolerance']:g}; switches {f['switches']['matmul']}/"
            f"{f['switches']['conv']}): matmul {f['matmul']:.1e}, conv {f['conv']:.1e} | tf32 (switches "
            f"{t['switches']['matmul']}/{t['switches']['conv']}): matmul {t['matmul']:.1e}, conv {t['conv']:.1e}"
        )
    if name.startswith("parity"):
        runs = [("device float64", "float64"), ("fp32", "fp32"), ("tf32", "tf32"), ("CPU float32", "cpu_fp32")]
        return f"batch {row['batch']}, rel. error after the step vs CPU float64 (checked: {row['checked']} <= " + (
            f"{row['tolerance']:g}): " + " | ".join(f"{label} {_errors(row[k])}" for label, k in runs if k in row)
        )
    if name == "exact vs fast":
        checked = f"checked at lr {row['checked_lr']:g}: >= {row['cosine_min']:g}"
        return f"batch {row['batch']}, cosine per group ({checked}): " + " | ".join(
            f"lr {key.removeprefix('cosine_lr_')}: " + ", ".join(f"{g} {c:.3f}" for g, c in cos.items())
            for key, cos in row.items()
            if key.startswith("cosine_lr_")
        )
    if name.startswith("32px"):
        text = f"loss {row['loss_first']:.3f} -> {row['loss_last']:.3f}"
        if row.get("wrong_shapes"):
            text += f"; WRONG batch shapes {row['wrong_shapes'][0]}"
        if "cublas_at_cuda_start" in row:
            text += f"; CUBLAS_WORKSPACE_CONFIG when CUDA started: {row['cublas_at_cuda_start']}"
        if "dloss_first" in row:
            text += (
                f"; x fp32 {row['x_fp32']:.2f}; |loss - fp32| first {row['dloss_first']:.1e}, "
                f"mean {row['dloss_mean']:.1e}"
            )
        return text
    if name.startswith("224px"):
        shapes = f"; WRONG batch shapes {row['wrong_shapes'][0]}" if row.get("wrong_shapes") else ""
        return (
            f"{row['loader']}, loss {row['loss_first']:.3f} -> {row['loss_last']:.3f}{shapes}; {row.get('source', '')}"
        )
    if name == "end to end":
        e = row["execution"]
        return (
            f"metrics.json execution: device {e['device']} ({e['device_name']}), precision {e['precision']}, "
            f"deterministic {e['deterministic']} (expected device {row['expected_device']})"
        )
    if name.startswith("resume"):
        files = ", ".join(f"{f} {'equal' if same else 'differs'}" for f, same in row["same_files"].items())
        return (
            f"resumed after epoch 0: {'yes' if row['resumed_after_epoch0'] else 'NO'}; model.pt max |diff| "
            f"{row['max_abs_diff']:.3g}; {files}"
        )
    return ""


def render(result: dict) -> str:
    head = result["machine"]
    lines = [
        f"{result['date']}  {head['device']} ({head['device_name']}), torch {head['torch']}"
        + (f", CUDA {head['cuda']}" if head["cuda"] else "")
        + f", {head['threads']} CPU threads; cap {result['cap_s']:g} s, {result['form']}",
        *result["notes"],
        f"{'row':<28} {'status':<11} {'s/iter':>9} {'x scratch':>9} {'peak MB':>8}  result",
    ]
    previous = None
    for row in result["rows"]:
        text = found = detail(row)
        if row["status"] == "refused":
            text = "as above" if found == previous else found  # the same missing file: named once
            previous = found
        lines.append(
            f"{row['row']:<28} {row['status']:<11} {_num(row.get('s_per_iter'), '.4f', 9)} "
            f"{_num(row.get('x_scratch'), '.1f', 9)} {_num(row.get('peak_mb'), '.0f', 8)}  {text}"
        )
    missing = [r["row"] for r in result["rows"] if r["status"] in ("not reached", "stopped")]
    if missing:
        lines.append(f"not finished within the {result['cap_s']:g} s cap: {', '.join(missing)}")
    lines.append(f"peak MB: {result['memory']}")
    lines.append("checks: " + ("all passed" if result["ok"] else "FAILED"))
    return "\n".join(lines)
