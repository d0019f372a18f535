"""ruff2021 Figure 1: decision regions of a supervised OE method (network + BCE) and an
unsupervised OE method (network + hypersphere loss, HSC) on two 2-D toy settings (spec §2.3,
§2.6, §4 Fig. 1 row, §8.3 "Fig 1", §8.4 "Fig 1 toy check", §9 item 19).

The paper gives no toy data and no training details (its caption is all there is; the authors'
repository has the network, ``toy_Net``, but no data generator or script). Our setting, from
spec §8.3:

* nominal: 500 points ~ N(0, I₂);
* OE, ``ideal``: 500 points uniform (in area) on the annulus 3 ≤ r ≤ 6, surrounding the data;
* OE, ``skewed``: 500 points ~ N((4, 0), 0.5² I₂), on one side of the data only.

Network φ: Linear(2→256) → BatchNorm1d → ELU → Linear(256→32) with a **linear** output. This is
a deliberate deviation from the repository's ``toy_Net``, which ends in a sigmoid: with a sigmoid
output HSC pushes the pre-activations of nominal points to −∞ and extrapolates that to far-away
points, so its nominal region is *not* compact (spec §8.4: 0.56–0.64 of the r = 7.5 circle
predicted nominal in the skewed setting), which contradicts the figure; a linear output
reproduces it. ``model.output = "sigmoid"`` is kept as an option to show that.

* HSC: φ trained with the pseudo-Huber HSC loss (:func:`adlib.losses.hypersphere_classifier_loss`),
  score h(φ(x)) (:class:`adlib.detectors.RadialScore`).
* BCE: φ followed by Linear(32→1) (:class:`adlib.models.lenet.OutlierLogitNet`), trained with
  :func:`adlib.losses.binary_outlier_loss` (target 1 = outlier), score = the logit.

Both: full-batch Adam (lr 1e-3) on all 1,000 points at once (BatchNorm over the mixed batch, as
in the image experiments, spec §2.8), 2,000 steps (smoke: 100; see :data:`STEPS`). Scores are
higher = more anomalous; a point is predicted nominal when its score is ≤ τ, the 95% quantile of the nominal
training scores (the paper does not say where it draws the boundary).

The data are drawn with the run seed (nominal points from one stream, OE from another), so at a
given seed HSC and BCE see the same points, and both settings share the nominal points.

Claims (spec §8.3) are checked on 360 points of the circle r = 7.5, outside all training data:
the fraction predicted nominal is ≈ 0 for a compact nominal region and large for an unbounded one.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from adlib.detectors import get_detector
from adlib.losses import binary_outlier_loss, hypersphere_classifier_loss
from adlib.models.lenet import OutlierLogitNet
from adlib.report import Claim, fmt_pm, mean_std
from adlib.results import ResultsStore, RunRecord
from adlib.scales import check_scale
from adlib.train import resolve_device, seed_everything

PAPER = "ruff2021"
EXPERIMENT = "toy2d"
RUNNER = "adlib.papers.ruff2021.toy:run"
ARTEFACT = "figure1"

SETTINGS: tuple[str, ...] = ("ideal", "skewed")
METHODS: tuple[str, ...] = ("bce", "hsc")  # the figure's column order: (b, e) BCE, then (c, f) HSC
METHOD_LABELS = {"hsc": "HSC (unsupervised OE)", "bce": "BCE (supervised OE)"}
SETTING_LABELS = {"ideal": "ideal OE (annulus 3 ≤ r ≤ 6)", "skewed": "skewed OE (N((4, 0), 0.5² I))"}
OUTPUTS: tuple[str, ...] = ("linear", "sigmoid")

STEPS = {"smoke": 100, "cpu": 2000, "paper": 2000}
"""Full-batch Adam steps. Spec §8.3 gives one configuration for ``cpu`` and ``paper`` with
1,000–2,000 steps; its pilot timing (§8.1) is for 2,000. We take 2,000: at 1,000 steps HSC's skewed
region is not converged yet (its area on [−8, 8]² still halves between 1,000 and 2,000 steps, and
thin lobes reach the r = 7.5 circle: 0.04–0.07 of it predicted nominal over seeds 0–2), while from
2,000 to 3,000 steps it no longer shrinks (≈ 0.09–0.12 of the grid, 0.00 of the circle)."""

COMPACT_MAX = 0.05
"""Claim (i)/(iii): a compact nominal region leaves ≤ 5% of the r = 7.5 circle predicted nominal."""
OPEN_MIN = 0.3
"""Claim (ii): BCE with skewed OE leaves ≥ 30% of the circle predicted nominal (spec §8.3)."""

RunKey = tuple[str, str, int]
"""(setting, method, seed)."""


# ---------------------------------------------------------------------------------------------
# configuration


def toy_config(scale: str, setting: str, method: str, seed: int, *, device: str = "cpu", threads: int = 1,
               output: str = "linear") -> dict[str, Any]:
    """The full, JSON-able config of one Figure 1 run (spec §8.3 "Fig 1"): data, network, training
    and evaluation; ``output`` is the last layer of φ (``linear``, ours; ``sigmoid``, the
    repository's ``toy_Net``, see the module docstring)."""
    check_scale(scale)
    if setting not in SETTINGS:
        raise ValueError(f"unknown toy setting {setting!r}; valid settings: {', '.join(SETTINGS)}")
    if method not in METHODS:
        raise ValueError(f"unknown toy method {method!r}; valid methods: {', '.join(METHODS)}")
    if output not in OUTPUTS:
        raise ValueError(f"unknown toy output layer {output!r}; valid: {', '.join(OUTPUTS)}")
    return {
        "paper": PAPER, "experiment": EXPERIMENT, "scale": scale, "setting": setting, "method": method,
        "seed": int(seed), "device": device, "threads": int(threads),
        "data": {"setting": setting, "n_nominal": 500, "n_oe": 500,
                 "nominal": {"mean": [0.0, 0.0], "std": 1.0},
                 "oe": ({"kind": "annulus", "r_min": 3.0, "r_max": 6.0} if setting == "ideal"
                        else {"kind": "gaussian", "mean": [4.0, 0.0], "std": 0.5})},
        "model": {"hidden": 256, "rep_dim": 32, "output": output, "logit_head": method == "bce"},
        "train": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "steps": STEPS[scale], "batch": "full",
                  "loss": "hsc" if method == "hsc" else "bce", "h": "pseudo_huber"},
        "detector": {"name": "radial", "h": "pseudo_huber"} if method == "hsc" else {"name": "outlier_logit"},
        "eval": {"quantile": 0.95, "circle_radius": 7.5, "circle_points": 360, "grid_extent": 8.0,
                 "grid_size": 121},
    }


def figure1_configs(scale: str, seeds: Sequence[int], *, device: str = "cpu", threads: int = 1) -> list[dict[str, Any]]:
    """Every run of Figure 1: settings × methods × seeds."""
    return [toy_config(scale, st, m, s, device=device, threads=threads)
            for st in SETTINGS for m in METHODS for s in seeds]


# ---------------------------------------------------------------------------------------------
# data


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(stream)])


def nominal_points(n: int, seed: int, mean: Sequence[float] = (0.0, 0.0), std: float = 1.0,
                   stream: int = 0) -> np.ndarray:
    """``n`` nominal points ~ N(mean, std² I₂), float32 (n, 2); ``stream`` 0 for training."""
    return (np.asarray(mean) + std * _rng(seed, stream).standard_normal((n, 2))).astype(np.float32)


def annulus_points(n: int, r_min: float, r_max: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in area on the annulus r_min ≤ r ≤ r_max (r = √U(r_min², r_max²))."""
    r = np.sqrt(rng.uniform(r_min ** 2, r_max ** 2, n))
    theta = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1).astype(np.float32)


def oe_points(data: dict[str, Any], seed: int) -> np.ndarray:
    """The OE points of a setting (spec §8.3): the ``ideal`` annulus or the ``skewed`` Gaussian."""
    oe, n = data["oe"], int(data["n_oe"])
    rng = _rng(seed, 1 + SETTINGS.index(data["setting"]))
    if oe["kind"] == "annulus":
        return annulus_points(n, oe["r_min"], oe["r_max"], rng)
    if oe["kind"] == "gaussian":
        return (np.asarray(oe["mean"]) + oe["std"] * rng.standard_normal((n, 2))).astype(np.float32)
    raise ValueError(f"unknown OE kind {oe['kind']!r}; valid: annulus, gaussian")


def toy_data(data: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(nominal, oe)`` training points of a run, float32 (n, 2) each."""
    nom = data["nominal"]
    return nominal_points(int(data["n_nominal"]), seed, nom["mean"], nom["std"]), oe_points(data, seed)


def circle_points(radius: float, n: int) -> np.ndarray:
    """``n`` equally spaced points on the circle of ``radius`` around the origin, float32 (n, 2)."""
    theta = 2 * np.pi * np.arange(n) / n
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1).astype(np.float32)


def grid_axis(extent: float, size: int) -> np.ndarray:
    """The ``size`` coordinates of the square evaluation grid [−extent, extent] along one axis."""
    return np.linspace(-extent, extent, size, dtype=np.float32)


def grid_points(extent: float, size: int) -> np.ndarray:
    """The grid's points (size², 2), row-major: point ``i * size + j`` is (x = axis[j], y = axis[i]),
    so scores reshaped to (size, size) are indexed ``[y, x]`` as ``imshow``/``contourf`` expect."""
    xx, yy = np.meshgrid(grid_axis(extent, size), grid_axis(extent, size))
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


# ---------------------------------------------------------------------------------------------
# network and training


class ToyNet(nn.Module):
    """φ of Figure 1: Linear(2→hidden) → BatchNorm1d → ELU → Linear(hidden→rep_dim), then a linear
    output (ours) or a sigmoid (the repository's ``toy_Net``; spec §4 Fig. 1 row, §9 item 19)."""

    def __init__(self, hidden: int = 256, rep_dim: int = 32, output: str = "linear") -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"unknown toy output layer {output!r}; valid: {', '.join(OUTPUTS)}")
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.BatchNorm1d(hidden), nn.ELU(), nn.Linear(hidden, rep_dim))
        self.out = nn.Sigmoid() if output == "sigmoid" else nn.Identity()
        self.rep_dim = rep_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(x))


def build_model(model: dict[str, Any]) -> nn.Module:
    """φ, with the BCE classifier's Linear(rep_dim→1) head when ``logit_head``."""
    phi = ToyNet(model["hidden"], model["rep_dim"], model["output"])
    return OutlierLogitNet(phi, model["rep_dim"]) if model["logit_head"] else phi


def train_toy(model: nn.Module, nominal: torch.Tensor, oe: torch.Tensor, train: dict[str, Any]) -> list[float]:
    """Full-batch Adam on nominal + OE (one forward pass, BatchNorm over the mixed batch);
    returns the loss every 10 steps and at the last step."""
    if train["optimizer"] != "adam" or train["batch"] != "full":
        raise ValueError(f"the toy runs use full-batch Adam, got {train['optimizer']!r} / {train['batch']!r}")
    x = torch.cat([nominal, oe])
    is_outlier = torch.cat([torch.zeros(len(nominal)), torch.ones(len(oe))]).to(x.device)
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"], weight_decay=train["weight_decay"])
    model.train()
    history: list[float] = []
    for step in range(int(train["steps"])):
        out = model(x)
        if train["loss"] == "hsc":
            loss = hypersphere_classifier_loss(out, is_outlier, h=train["h"])
        elif train["loss"] == "bce":
            loss = binary_outlier_loss(out, is_outlier)
        else:
            raise ValueError(f"unknown toy loss {train['loss']!r}; valid: hsc, bce")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == int(train["steps"]) - 1:
            history.append(float(loss.detach()))
    model.eval()
    return history


def nominal_threshold(nominal_scores: np.ndarray, quantile: float = 0.95) -> float:
    """τ: the ``quantile`` of the nominal training scores; a point is predicted nominal iff score ≤ τ."""
    return float(np.quantile(np.asarray(nominal_scores, dtype=np.float64), quantile))


def nominal_fraction(scores: np.ndarray, threshold: float) -> float:
    """The fraction of ``scores`` predicted nominal (score ≤ τ)."""
    return float(np.mean(np.asarray(scores) <= threshold))


# ---------------------------------------------------------------------------------------------
# the runner


def run(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one toy network, score the training points, the r = 7.5 circle and the grid.

    Metrics: ``threshold`` (τ), ``circle_nominal_fraction``, ``oe_nominal_fraction``,
    ``nominal_train_nominal_fraction`` (≈ 0.95 by construction), ``grid_nominal_fraction`` (the
    area share of [−8, 8]² predicted nominal), ``final_loss`` and ``losses``. Arrays: ``nominal``,
    ``oe`` (training points), ``score_grid`` (grid_size², indexed [y, x]), ``grid_axis``,
    ``nominal_scores``, ``oe_scores``, ``circle_scores``; all float32.
    """
    device = resolve_device(cfg["device"])
    seed_everything(cfg["seed"], cfg["threads"])
    nominal, oe = toy_data(cfg["data"], cfg["seed"])
    model = build_model(cfg["model"]).to(device)
    losses = train_toy(model, torch.from_numpy(nominal).to(device), torch.from_numpy(oe).to(device), cfg["train"])

    ev = cfg["eval"]
    detector = get_detector(cfg["detector"]["name"], **{k: v for k, v in cfg["detector"].items() if k != "name"})
    axis = grid_axis(ev["grid_extent"], ev["grid_size"])
    points = {"nominal": nominal, "oe": oe, "circle": circle_points(ev["circle_radius"], ev["circle_points"]),
              "grid": grid_points(ev["grid_extent"], ev["grid_size"])}
    scores = {k: detector.score(model, torch.from_numpy(v)).numpy().astype(np.float32) for k, v in points.items()}
    tau = nominal_threshold(scores["nominal"], ev["quantile"])
    metrics = {
        "threshold": tau,
        "circle_nominal_fraction": nominal_fraction(scores["circle"], tau),
        "oe_nominal_fraction": nominal_fraction(scores["oe"], tau),
        "nominal_train_nominal_fraction": nominal_fraction(scores["nominal"], tau),
        "grid_nominal_fraction": nominal_fraction(scores["grid"], tau),
        "final_loss": losses[-1],
        "losses": losses,
    }
    arrays = {"nominal": nominal, "oe": oe, "grid_axis": axis,
              "score_grid": scores["grid"].reshape(ev["grid_size"], ev["grid_size"]),
              "nominal_scores": scores["nominal"], "oe_scores": scores["oe"], "circle_scores": scores["circle"]}
    return metrics, arrays


def run_toy_grid(scale: str, seeds: Sequence[int], *, force: bool = False, workers: int | None = None,
                 progress: bool = True, store: ResultsStore | None = None,
                 device: str = "cpu") -> dict[RunKey, RunRecord]:
    """Run (or load) every Figure 1 run (settings × methods × seeds) through
    :func:`adlib.sweep.run_sweep`, stored with provenance in ``ResultsStore.for_scale(scale)``;
    returns ``{(setting, method, seed): record}``."""
    from adlib.sweep import run_sweep, sweep_threads

    dev = str(resolve_device(device).type)
    cfgs = figure1_configs(scale, seeds, device=dev, threads=sweep_threads(dev))
    records = run_sweep(cfgs, RUNNER, store=store or ResultsStore.for_scale(scale), force=force, workers=workers,
                        progress=progress, desc="figure1 toy runs")
    return {(c["setting"], c["method"], int(c["seed"])): r for c, r in zip(cfgs, records)}


# ---------------------------------------------------------------------------------------------
# figure, table, claims


def _seeds(records: dict[RunKey, RunRecord]) -> list[int]:
    return sorted({seed for _, _, seed in records})


def plot_figure1(records: dict[RunKey, RunRecord], seed: int | None = None):
    """The paper's 2×3 panels for one seed (default: the smallest): per setting (rows: ideal,
    skewed), (a, d) the training data, (b, e) BCE's and (c, f) HSC's predicted nominal region
    (score ≤ τ, shaded, boundary in black) on [−8, 8]², with the r = 7.5 check circle dashed.

    No paper values: the paper gives this figure only as a plot."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    seed = _seeds(records)[0] if seed is None else seed
    fig, axes = plt.subplots(len(SETTINGS), 1 + len(METHODS), figsize=(11, 7.4), sharex=True, sharey=True)
    letters = iter("abcdef")
    for row, setting in zip(axes, SETTINGS):
        first = records[(setting, METHODS[0], seed)]
        for ax, panel in zip(row, ("data", *METHODS)):
            rec = first if panel == "data" else records[(setting, panel, seed)]
            extent = rec.config["eval"]["grid_extent"]
            if panel != "data":
                axis, grid, tau = rec.arrays["grid_axis"], rec.arrays["score_grid"], rec.metrics["threshold"]
                ax.contourf(axis, axis, (grid <= tau).astype(float), levels=[0.5, 1.5], colors=["#c6dbef"])
                ax.contour(axis, axis, grid, levels=[tau], colors="k", linewidths=1.2, linestyles="solid")
                ax.add_patch(Circle((0, 0), rec.config["eval"]["circle_radius"], fill=False, ls="--", lw=0.8,
                                    color="0.4"))
                title = (f"{METHOD_LABELS[panel]}\ncircle nominal: {rec.metrics['circle_nominal_fraction']:.2f}")
            else:
                title = f"data: {SETTING_LABELS[setting]}"
            ax.scatter(*rec.arrays["nominal"].T, s=3, c="tab:blue", label="nominal")
            ax.scatter(*rec.arrays["oe"].T, s=3, c="tab:red", label="OE")
            ax.set_xlim(-extent, extent)
            ax.set_ylim(-extent, extent)
            ax.set_aspect("equal")
            ax.set_title(f"({next(letters)}) {title}", fontsize=9)
        row[0].set_ylabel("x₂")
    for ax in axes[-1]:
        ax.set_xlabel("x₁")
    axes[0, 0].legend(fontsize=8, loc="lower left", markerscale=3)
    scale = first.config["scale"]
    fig.suptitle(f"Figure 1 (ours, {scale} scale, seed {seed}): shaded = predicted nominal "
                 "(score ≤ 95% quantile of the nominal training scores)", fontsize=10)
    fig.tight_layout()
    return fig


def fractions_table(records: dict[RunKey, RunRecord]) -> pd.DataFrame:
    """Per (setting, method): the fraction of the r = 7.5 circle and of the OE training points
    predicted nominal, per seed and as mean ± std over seeds."""
    seeds = _seeds(records)
    quantities = {"circle_nominal_fraction": "circle r = 7.5 predicted nominal",
                  "oe_nominal_fraction": "OE training points predicted nominal"}
    rows = {}
    for setting in SETTINGS:
        for method in METHODS:
            if not all((setting, method, s) in records for s in seeds):
                continue
            row = {}
            for key, label in quantities.items():
                vals = [records[(setting, method, s)].metrics[key] for s in seeds]
                row.update({(label, f"seed {s}"): f"{v:.3f}" for s, v in zip(seeds, vals)})
                row[(label, "mean ± std")] = fmt_pm(*mean_std(vals), 3)
            rows[(setting, METHOD_LABELS[method])] = row
    df = pd.DataFrame(rows).T
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["fraction", "seed"])
    df.index.names = ["setting", "method"]
    return df


def _circle_fractions(records: dict[RunKey, RunRecord], setting: str, method: str) -> dict[int, float]:
    return {s: records[(st, m, s)].metrics["circle_nominal_fraction"]
            for st, m, s in sorted(records) if (st, m) == (setting, method)}


def _evidence(fracs: dict[str, dict[int, float]]) -> str:
    return "; ".join(f"{label}: " + ", ".join(f"seed {s} {v:.2f}" for s, v in vals.items())
                     for label, vals in fracs.items())


def figure1_claims(records: dict[RunKey, RunRecord]) -> list[Claim]:
    """Spec §8.3 "Fig 1", on the fraction of 360 points of the circle r = 7.5 predicted nominal,
    every seed: (i) HSC's nominal region is compact (≤ 0.05) with ideal and with skewed OE;
    (ii) BCE's is not with skewed OE (≥ 0.3); (iii) with ideal OE both are compact (≤ 0.05)."""
    hsc = {f"HSC {st}": _circle_fractions(records, st, "hsc") for st in SETTINGS}
    bce_skewed = {"BCE skewed": _circle_fractions(records, "skewed", "bce")}
    ideal = {f"{m.upper()} ideal": _circle_fractions(records, "ideal", m) for m in METHODS}
    for group in (hsc, bce_skewed, ideal):
        for label, vals in group.items():
            if not vals:
                raise ValueError(f"figure1_claims: no runs of {label}")

    def all_within(group: dict[str, dict[int, float]], low: float, high: float) -> bool:
        return all(low <= v <= high for vals in group.values() for v in vals.values())

    return [
        Claim(ARTEFACT, f"HSC learns a compact nominal region with ideal and with skewed OE (≤ {COMPACT_MAX:.2f} "
              "of the r = 7.5 circle predicted nominal, every seed)", all_within(hsc, 0.0, COMPACT_MAX),
              _evidence(hsc)),
        Claim(ARTEFACT, f"With skewed OE, BCE's nominal region is not compact (≥ {OPEN_MIN:.2f} of the r = 7.5 "
              "circle predicted nominal, every seed)", all_within(bce_skewed, OPEN_MIN, 1.0), _evidence(bce_skewed)),
        Claim(ARTEFACT, f"With ideal OE surrounding the data, both BCE and HSC learn a compact nominal region "
              f"(≤ {COMPACT_MAX:.2f} of the circle predicted nominal, every seed)",
              all_within(ideal, 0.0, COMPACT_MAX), _evidence(ideal)),
    ]


def deviations(scale: str) -> str:
    """What differs from the paper's Figure 1 (Markdown)."""
    from adlib.report import sci

    check_scale(scale)
    ideal, skewed = (toy_config("cpu", st, "bce", 0) for st in SETTINGS)  # the lines describe cpu scale
    d, tr, ev, rep = ideal["data"], ideal["train"], ideal["eval"], ideal["model"]["rep_dim"]
    ann, gau = ideal["data"]["oe"], skewed["data"]["oe"]
    nom = d["nominal"]
    nominal = ("N(0, I₂)" if (list(nom["mean"]), nom["std"]) == ([0.0, 0.0], 1.0)
               else f"N(({', '.join(f'{m:g}' for m in nom['mean'])}), {nom['std']:g}² I)")
    decay = "no weight decay" if not tr["weight_decay"] else f"weight decay {sci(tr['weight_decay'])}"
    lines = [
        "- **The toy data are ours.** The paper gives no data generator or training details for Figure 1. "
        f"We use spec §8.3's: {d['n_nominal']} nominal points ~ {nominal}; *ideal* OE = {d['n_oe']} points "
        f"uniform on the annulus {ann['r_min']:g} ≤ r ≤ {ann['r_max']:g}; *skewed* OE = {d['n_oe']} points ~ "
        f"N(({', '.join(f'{m:g}' for m in gau['mean'])}), {gau['std']:g}² I). The data are drawn with the run "
        "seed.",
        "- **Linear output layer instead of the repository's sigmoid.** The authors' `toy_Net` is "
        "Linear(2→256) → BatchNorm → ELU → Linear(256→32) → sigmoid. With the sigmoid, HSC's nominal region "
        f"is *not* compact in the skewed setting (spec §8.4: 0.56–0.64 of the r = {ev['circle_radius']:g} circle "
        "predicted nominal, "
        "3 seeds), contradicting the figure; with a linear output (ours) the figure's message reproduces "
        "(spec §9 item 19).",
        f"- Training: {STEPS['cpu']:,} steps of full-batch Adam (lr {sci(tr['lr'])}, {decay}) at `cpu` scale, "
        "the "
        "upper end of spec §8.3's 1,000–2,000 (its pilot ran 2,000): after 1,000 steps HSC's skewed-setting "
        f"region is not converged yet and has thin lobes that reach the r = {ev['circle_radius']:g} circle. "
        "BatchNorm sees the mixed "
        "nominal + OE batch; "
        f"HSC with the pseudo-Huber h (the paper's default) and score h(φ(x)); BCE = φ + Linear({rep}→1), "
        "score = "
        "the logit.",
        "- The paper does not say where its decision boundary lies. Ours: a point is predicted nominal when its "
        f"score is at most the {ev['quantile']:.0%} quantile of the nominal training scores. The panels show the "
        "first seed; "
        f"the claims check every seed on {ev['circle_points']} points of the circle r = {ev['circle_radius']:g} "
        "(outside all training data).",
    ]
    head = {"smoke": f"**Scale `smoke`: {STEPS['smoke']} training steps, 1 seed; the regions and numbers are "
                     "not meaningful.**",
            "cpu": f"Scale `cpu`: the spec's full configuration for this toy ({STEPS['cpu']} full-batch steps); "
                   "no Fashion-MNIST is involved.",
            "paper": f"Scale `paper`: the same configuration as `cpu` ({STEPS['paper']} steps); the paper's own "
                     "toy setting is unknown."}[scale]
    return "\n".join([head, "", *lines])
