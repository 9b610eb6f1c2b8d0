"""Saliency of the matching loss on target images: FM vs L2T-w (spec §8 "Saliency maps").

The paper shows that L2T-w's learned channel weights make the transfer loss look at the object
more and the background less than unweighted feature matching; its exact definition is unknown,
so this one is chosen and documented (spec §8 suggestion):

    s(x)   = max over input channels of |dL_wfm(x) / dx|                     (per pixel)
    L_wfm  = sum over pairs of beta * sum_c w_c(x) d_c(x)                     (spec §3, lambda = 1)
    d_c(x) = mean_hw (resize(S_m(x)) - r(T_n(x)))^2_c

- FM is the same formula with w_c = 1/C (spec §3 variant "without w and lambda"), so both models
  are scored by one function; L2T-w has lambda = 1 by construction (no where-net).
- The derivative is total: through the trained target and regressors, the frozen source, and the
  what-net's weights w(x). Every network is in eval mode (BN running statistics), so each image's
  map depends on that image alone.
- Each map is divided by its own maximum (values in [0, 1]) so the two models compare by *where*
  they look, not by the scale of their losses; the difference is L2T-w minus FM (> 0: L2T-w looks
  there more).
The weights are each run's best-val epoch (model.pt).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.loader import open_split
from ..io import load_torch, read_json
from ..methods.matching import pair_distances, pooled_source
from ..methods.meta_nets import weighted_matching_loss
from ..training.assemble import build_run

DEFINITION = (
    "s(x) = max over input channels of |∂L_wfm(x)/∂x|, with L_wfm = Σ_pairs β Σ_c w_c(x) d_c(x) and λ = 1; "
    "FM uses w_c = 1/C. Total derivative through the target, its regressors, the frozen source and the "
    "what-net; all networks in eval mode; each map divided by its own maximum; difference = L2T-w − FM."
)


def is_fm(methods: dict, method: str) -> bool:
    return methods[method]["kind"] == "fm"


def is_l2t_w(methods: dict, method: str) -> bool:
    """L2T with learned channel weights (what-net) and no where-net."""
    cfg = methods[method]
    return cfg["kind"] == "l2t" and cfg.get("what", True) and not cfg.get("where", True)


def choose_runs(methods: dict, runs: list[dict]) -> tuple[dict, dict] | None:
    """An FM run and an L2T-w run of the same target, N, seed (same pair set preferred), or None."""
    fm = [r for r in runs if is_fm(methods, r["method"])]
    lw = [r for r in runs if is_l2t_w(methods, r["method"])]
    candidates = [
        (a, b)
        for a in fm
        for b in lw
        if (a["target"], a["n_per_class"], a["seed"]) == (b["target"], b["n_per_class"], b["seed"])
    ]
    if not candidates:
        return None
    same_pairs = [c for c in candidates if c[0]["pairs"] == c[1]["pairs"]]
    return (same_pairs or candidates)[0]


@dataclass
class Trained:
    """A finished run, rebuilt from its best-val weights, in eval mode on the CPU."""

    run: dict
    target: torch.nn.Module
    method: torch.nn.Module
    sources: list[torch.nn.Module]


def _split_data(run: dict, device: torch.device):
    data = run["inputs"]["data"]
    return open_split(data["prepared_files"], data["split"], data["dataset"], 64, device)


def load_trained(run: dict, device: torch.device | None = None) -> Trained:
    """`run`: a report run (metrics + `inputs`, the plain description training used); on the CPU
    unless `device` says otherwise."""
    device = device or torch.device("cpu")
    inputs = run["inputs"]
    data = _split_data(run, device)
    target, method, sources = build_run(inputs, data.num_classes, data.image_shape, device)
    state = load_torch(inputs["model"], f"weights of {run['run_id']}")
    target.load_state_dict(state["target"])
    method.load_state_dict(state["method"])
    return Trained(run, target.eval(), method.eval(), sources)


def sample_images(run: dict, count: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """`count` test images of distinct classes (the first of each class): normalised x, labels, class names."""
    data = _split_data(run, torch.device("cpu"))
    x, y = _first_batch(data.test)
    picked: dict[int, int] = {}
    for i, label in enumerate(y.tolist()):
        picked.setdefault(label, i)
    idx = torch.tensor(sorted(picked.values(), key=lambda i: y[i].item())[:count])
    classes = read_json(run["inputs"]["data"]["prepared_files"]["meta"])["classes"]
    return x[idx], y[idx], [classes[i] for i in y[idx].tolist()]


def _first_batch(loader):
    """Test batches come in index order; concatenate until every class has appeared (or the set ends)."""
    xs, ys = [], []
    for x, y in loader.epoch():
        xs.append(x)
        ys.append(y)
        if len(torch.cat(ys).unique()) == len(loader.labels.unique()):
            break
    return torch.cat(xs), torch.cat(ys)


def weights_and_lambdas(method, source_features):
    """The what-net weights w (None for FM: uniform); lambda is 1 for both compared methods."""
    meta = getattr(method, "meta", None)
    if meta is None:
        return None
    weights, _ = meta(pooled_source(method.spec.pairs, source_features))
    return weights


def wfm_saliency(trained: Trained, x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) normalised images -> (B, H, W) saliency, each map scaled to max 1."""
    x = x.clone().requires_grad_(True)
    out = trained.target(x)
    source_features = [s(x).features for s in trained.sources]
    distances = pair_distances(trained.method.spec.pairs, trained.method.regressors, out.features, source_features)
    loss = weighted_matching_loss(
        distances, weights_and_lambdas(trained.method, source_features), None, trained.method.beta
    )
    (grad,) = torch.autograd.grad(loss * x.shape[0], x)  # x B: each image's own loss (mean over batch)
    sal = grad.abs().amax(dim=1)  # (B, H, W)
    return sal / sal.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]


@torch.no_grad()
def mean_channel_weights(trained: Trained, x: torch.Tensor) -> list[torch.Tensor] | None:
    """Per pair, the what-net's channel weights averaged over the images: [(C_m,)], or None."""
    weights = weights_and_lambdas(trained.method, [s(x).features for s in trained.sources])
    return None if weights is None else [w.mean(dim=0) for w in weights]


def compare(fm_run: dict, l2t_run: dict, count: int = 6) -> dict:
    """Images, both saliency maps and their difference, for the notebook to draw."""
    x, y, names = sample_images(fm_run, count)
    fm, lw = load_trained(fm_run), load_trained(l2t_run)
    s_fm, s_lw = wfm_saliency(fm, x), wfm_saliency(lw, x)
    norm = fm_run["inputs"]["data"]["dataset"]["normalize"]
    mean = torch.tensor(norm["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(norm["std"]).view(1, -1, 1, 1)
    images = (x * std + mean).clamp(0, 1).permute(0, 2, 3, 1)  # (B, H, W, C) in [0, 1] for imshow
    return {
        "images": images.numpy(),
        "labels": names,
        "fm": s_fm.numpy(),
        "l2t_w": s_lw.numpy(),
        "diff": (s_lw - s_fm).numpy(),
        "fm_run": fm_run["run_id"],
        "l2t_w_run": l2t_run["run_id"],
    }
