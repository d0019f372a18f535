"""ahmed2020 Appendix D: the pixel-level GMM and the edge-energy score on dataset-vs-dataset OOD
benchmarks, and on the semantic hold-out-class task (spec ahmed2020 §2.8, §8.1 "(Appendix D
table)").

Two kinds of run (``config["task"]``), both stored under ``results/ahmed2020/pixel_baselines``:

* ``dataset_shift``: fit :class:`~adlib.papers.ahmed2020.baselines.PixelGMM` on the
  in-distribution training split, score the in-distribution test split and each OOD set; AP with
  the OOD images positive, per OOD set, for the GMM and for the edge-energy score.
* ``holdout``: the paper's own semantic benchmark run with the same trivial detector: fit the GMM
  on the training images of every class but ``held_out`` and score the full test split, the
  held-out class positive (skew 10 %). The paper does not run the GMM here; spec §8.1 does, to show
  that low-level statistics do not solve a semantic task.

Scales:

* ``paper``: CIFAR-10 against the ODIN OOD sets (TinyImageNet crop / resize, LSUN crop / resize,
  iSUN), all of each set (≈ 50 % OOD), and the CIFAR-10 hold-out task (ours).
* ``cpu``: Fashion-MNIST; the OOD sets are synthesised offline (:data:`CPU_OOD_SETS`) with 2,000
  images each (skew ≈ 16.7 %, as in the spec's pilot; the paper's sets are ≈ 50 % OOD), plus the
  Fashion-MNIST hold-out task. These are *analogues*: never read them as the paper's numbers.
* ``smoke``: a few hundred images, for tests.

The run seed drives the pixel subsample and the GMM initialisation, and the draw of the synthetic
OOD sets (so 3 seeds show the spread from both). The edge score has no parameters: its AP varies
between seeds only through the synthetic sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from adlib.scales import check_scale

PAPER = "ahmed2020"
EXPERIMENT = "pixel_baselines"
RUNNER = "adlib.papers.ahmed2020.appendix_d:run"
ARTEFACT = "appendix_d"
METHODS: tuple[str, ...] = ("gmm", "edge")
METHOD_LABELS = {"gmm": "pixel GMM (3 components per channel)", "edge": "edge energy (Sobel, low = OOD)"}

IN_DATASETS = {"fmnist": ("fashion_mnist", "Fashion-MNIST", 10), "cifar10": ("cifar10", "CIFAR-10", 10)}
"""key -> (image loader / manifest name, label, number of classes)."""

CPU_OOD_SETS: dict[str, str] = {
    "uniform_noise": "uniform noise U[0, 1]",
    "gaussian_noise": "Gaussian noise N(0.5, 0.5²), clipped",
    "dark_flat": "dark-flat: N(0, 0.01²) clipped to [0, 1] (near-constant, low variance)",
    "dim_blur": "dim blurred Fashion-MNIST (Gaussian blur σ = 2, × 0.15)",
    "digits_bilinear": "sklearn digits, bilinear 8→28 px",
    "digits_nearest_crop": "sklearn digits, 4× nearest 8→32 px, centre 28-px crop",
}
"""The cpu-scale OOD sets (in-distribution: Fashion-MNIST), all offline."""
SHORT_LABELS: dict[str, str] = {
    "uniform_noise": "uniform noise", "gaussian_noise": "Gaussian noise", "dark_flat": "dark-flat",
    "dim_blur": "dim blurred FMNIST", "digits_bilinear": "digits (bilinear)", "digits_nearest_crop": "digits (nearest, crop)",
    "tiny_imagenet_crop": "TinyImageNet (crop)", "tiny_imagenet_resize": "TinyImageNet (resize)", "lsun_crop": "LSUN (crop)",
    "lsun_resize": "LSUN (resize)", "isun": "iSUN",
}
CPU_ANALOGUE_OF: dict[str, str] = {
    "uniform_noise": "noise sets of the OOD literature (the paper's §1 'trivially separable' case)",
    "gaussian_noise": "noise sets of the OOD literature (the paper's §1 'trivially separable' case)",
    "dark_flat": "LSUN (crop): flat, low-variance crops, the GMM's failure case",
    "dim_blur": "a low-contrast, low-detail shift of the in-distribution (no paper row)",
    "digits_bilinear": "the '(resize)' sets: another dataset downsampled/resampled",
    "digits_nearest_crop": "the '(crop)' sets: another dataset, cropped",
}
PAPER_OOD_SETS: dict[str, str] = {
    "tiny_imagenet_crop": "TinyImagenet (crop)",
    "tiny_imagenet_resize": "TinyImagenet (resize)",
    "lsun_crop": "LSUN",
    "lsun_resize": "LSUN (resize)",
    "isun": "iSUN",
}
"""The paper-scale OOD sets (image loader name -> the label the paper's Appendix D table prints)."""
PAPER_MANIFESTS = {"cifar10": "cifar10", "tiny_imagenet_crop": "tiny_imagenet_odin",
                   "tiny_imagenet_resize": "tiny_imagenet_odin", "lsun_crop": "lsun", "lsun_resize": "lsun",
                   "isun": "isun"}
N_PIXELS = 500_000
"""Pixels per channel the GMM is fitted on (a seeded subsample of the pooled training pixels)."""
CPU_N_OOD = 2000
FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def class_names(in_dataset: str) -> tuple[str, ...]:
    return FMNIST_CLASSES if in_dataset == "fmnist" else CIFAR10_CLASSES


def ood_sets(scale: str) -> tuple[str, ...]:
    return tuple(PAPER_OOD_SETS) if scale == "paper" else tuple(CPU_OOD_SETS)


def ood_label(key: str) -> str:
    return PAPER_OOD_SETS.get(key) or CPU_OOD_SETS[key]


def _sizes(scale: str) -> dict[str, Any]:
    if scale == "smoke":
        return {"n_train": 2000, "n_test": 1000, "n_ood": 200, "n_pixels": 20_000}
    if scale == "cpu":
        return {"n_train": None, "n_test": None, "n_ood": CPU_N_OOD, "n_pixels": N_PIXELS}
    return {"n_train": None, "n_test": None, "n_ood": None, "n_pixels": N_PIXELS}


def run_config(scale: str, task: str, seed: int, *, held_out: int | None = None) -> dict[str, Any]:
    """The full, JSON-able config of one run. ``task``: ``"dataset_shift"`` or ``"holdout"`` (then
    ``held_out`` is the anomalous class 0..9). The detectors run on the CPU (scikit-learn), so the
    config's device is always ``cpu``."""
    scale = check_scale(scale)
    if task not in ("dataset_shift", "holdout"):
        raise ValueError(f"task must be 'dataset_shift' or 'holdout'; got {task!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer; got {seed!r}")
    in_dataset = "cifar10" if scale == "paper" else "fmnist"
    sizes = _sizes(scale)
    data: dict[str, Any] = {"in_dataset": in_dataset, "n_train": sizes["n_train"], "n_test": sizes["n_test"]}
    if task == "holdout":
        n_classes = IN_DATASETS[in_dataset][2]
        if isinstance(held_out, bool) or not isinstance(held_out, (int, np.integer)) or not 0 <= held_out < n_classes:
            raise ValueError(f"held_out must be a class index 0..{n_classes - 1}; got {held_out!r}")
        data["held_out"] = int(held_out)
    else:
        if held_out is not None:
            raise ValueError("held_out belongs to the 'holdout' task only")
        data["ood_sets"] = list(ood_sets(scale))
        data["n_ood"] = sizes["n_ood"]
    return {"paper": PAPER, "experiment": EXPERIMENT, "scale": scale, "task": task, "seed": int(seed),
            "device": "cpu", "threads": 1, "data": data,
            "gmm": {"n_components": 3, "n_pixels": sizes["n_pixels"], "reg_covar": 1e-6, "max_iter": 200},
            "edge": {"operator": "sobel", "score": "-energy"}}


def holdout_classes(scale: str) -> tuple[int, ...]:
    return (0, 1) if scale == "smoke" else tuple(range(10))


def configs(scale: str, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """Every run of the notebook: the dataset-shift run and each held-out class, per seed."""
    out = [run_config(scale, "dataset_shift", s) for s in seeds]
    out += [run_config(scale, "holdout", s, held_out=c) for c in holdout_classes(scale) for s in seeds]
    return out


# ---------------------------------------------------------------------------------------------
# data


def required_datasets(cfg: dict[str, Any]) -> list[str]:
    """The manifests a run needs."""
    d = cfg["data"]
    names = [IN_DATASETS[d["in_dataset"]][0]]
    for key in d.get("ood_sets", []):
        if key in PAPER_MANIFESTS and PAPER_MANIFESTS[key] not in names:
            names.append(PAPER_MANIFESTS[key])
    return names


def check_data_present(cfg: dict[str, Any]) -> None:
    """Raise ``DatasetMissingError`` (its message names ``python -m adlib.data fetch <name>``) for
    the first dataset of the run that is not on this machine."""
    from adlib.data.manifests import locate

    for name in required_datasets(cfg):
        locate(name)


def _quantize(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats -> uint8, as a real image file would store them."""
    return (x * 255.0).round_().clamp_(0, 255).to(torch.uint8)


def dark_flat(n: int, shape: Sequence[int], generator: torch.Generator, sigma: float = 0.01) -> torch.Tensor:
    """Near-constant dark images: i.i.d. N(0, σ²) per pixel, clipped to [0, 1], uint8 (the LSUN-crop
    analogue of spec §8.3: flat, low variance, sitting on the in-distribution's background)."""
    return _quantize((sigma * torch.randn(n, *shape, generator=generator)).clamp_(0.0, 1.0))


def dim_blur(images: torch.Tensor, sigma: float = 2.0, factor: float = 0.15) -> torch.Tensor:
    """Gaussian-blurred (σ px, kernel 2⌈3σ⌉ + 1) and dimmed (× ``factor``) copies of uint8 images."""
    import torchvision.transforms.v2.functional as TF

    k = 2 * int(np.ceil(3 * sigma)) + 1
    x = images.float().div(255.0)
    x = x.unsqueeze(1) if x.ndim == 3 else x
    out = TF.gaussian_blur(x, [k, k], [sigma, sigma]) * factor
    return _quantize(out.squeeze(1) if images.ndim == 3 else out)


def digits_nearest_crop() -> torch.Tensor:
    """sklearn's 1,797 8×8 digits, 4× nearest-neighbour upsampled to 32×32, centre 28×28 crop, uint8
    (0–16 scaled to 0–255; ink high, background 0, like Fashion-MNIST)."""
    from sklearn.datasets import load_digits

    x = torch.from_numpy(load_digits().images.astype(np.float32) / 16.0).unsqueeze(1)
    up = torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")[:, 0]
    return _quantize(up[:, 2:30, 2:30])


def _subset(x: torch.Tensor, y: torch.Tensor, n: int | None, rng: np.random.Generator):
    if n is None or n >= len(x):
        return x, y
    idx = torch.from_numpy(np.sort(rng.choice(len(x), size=n, replace=False)))
    return x[idx], y[idx]


def build_cpu_ood(key: str, n: int, shape: tuple[int, ...], seed: int, pool: torch.Tensor) -> torch.Tensor:
    """One cpu-scale OOD set (uint8). ``pool``: Fashion-MNIST training images, for ``dim_blur``
    (training images, so no in-distribution test image also appears as an OOD image)."""
    from adlib.data import synthetic
    from adlib.data.images import load_digits_28

    g = torch.Generator().manual_seed(int(np.random.default_rng([seed, list(CPU_OOD_SETS).index(key)])
                                          .integers(2**62)))
    if key == "uniform_noise":
        return _quantize(synthetic.uniform(n, shape, "unit", g))
    if key == "gaussian_noise":
        return _quantize(synthetic.gaussian(n, shape, "unit", g))
    if key == "dark_flat":
        return dark_flat(n, shape, g)
    if key == "dim_blur":
        idx = torch.randperm(len(pool), generator=g)[:n].sort().values
        return dim_blur(pool[idx])
    if key == "digits_bilinear":
        return load_digits_28()[0][:n]
    if key == "digits_nearest_crop":
        return digits_nearest_crop()[:n]
    raise ValueError(f"unknown cpu OOD set {key!r}; valid: {', '.join(CPU_OOD_SETS)}")


@dataclass
class AppendixDData:
    """One run's uint8 images: GMM training images, the in-distribution test images with labels,
    and the OOD sets (dataset-shift runs)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    ood: dict[str, torch.Tensor]


def build_data(cfg: dict[str, Any]) -> AppendixDData:
    """Load one run's images (the hold-out class is removed from the training images)."""
    from adlib.data.images import load_images

    d = cfg["data"]
    loader = IN_DATASETS[d["in_dataset"]][0]
    check_data_present(cfg)
    tr_x, tr_y = load_images(loader, "train")
    te_x, te_y = load_images(loader, "test")
    rng = np.random.default_rng([20200, cfg["seed"]])
    if "held_out" in d:
        keep = tr_y != d["held_out"]
        tr_x, tr_y = tr_x[keep], tr_y[keep]
    train_x, train_y = _subset(tr_x, tr_y, d["n_train"], rng)
    test_x, test_y = _subset(te_x, te_y, d["n_test"], rng)
    ood: dict[str, torch.Tensor] = {}
    for key in d.get("ood_sets", []):
        if key in PAPER_OOD_SETS:
            x, _ = load_images(key, "test")
            ood[key] = x if d["n_ood"] is None else x[: d["n_ood"]]
        else:
            ood[key] = build_cpu_ood(key, d["n_ood"], tuple(te_x.shape[1:]), cfg["seed"], tr_x)
    return AppendixDData(train_x, train_y, test_x, test_y, ood)


# ---------------------------------------------------------------------------------------------
# the runner


def _gmm_params(model) -> list[dict[str, list[float]]]:
    return [{"weights": [round(float(v), 6) for v in g.weights_.ravel()],
             "means": [round(float(v), 6) for v in g.means_.ravel()],
             "variances": [float(f"{v:.6g}") for v in g.covariances_.ravel()]} for g in model.mixtures]


def _binary(in_scores: np.ndarray, out_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([in_scores, out_scores]),
            np.r_[np.zeros(len(in_scores), np.uint8), np.ones(len(out_scores), np.uint8)])


def run(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The runner the sweep calls (registered as ``("ahmed2020", "pixel_baselines")``).

    Metrics (fractions, OOD / held-out class positive): ``ap`` and ``auroc`` (an extra: the paper
    reports AP only), per method (``gmm``, ``edge``), per OOD set for ``dataset_shift`` runs;
    ``skew`` (the positive fraction = a random detector's AP), the image counts and the fitted
    mixtures. Arrays: the float32 scores (higher = more anomalous) and, for hold-out runs, the
    labels.
    """
    from adlib.metrics import auroc, average_precision
    from adlib.papers.ahmed2020.baselines import PixelGMM, edge_score

    data = build_data(cfg)
    g = cfg["gmm"]
    model = PixelGMM(n_components=g["n_components"], n_pixels=g["n_pixels"], seed=cfg["seed"],
                     max_iter=g["max_iter"], reg_covar=g["reg_covar"]).fit(data.train_x)
    scorers = {"gmm": model.score, "edge": edge_score}
    in_scores = {m: f(data.test_x) for m, f in scorers.items()}
    metrics: dict[str, Any] = {"n_train": int(len(data.train_x)), "n_test": int(len(data.test_x)),
                               "gmm_fit": _gmm_params(model)}
    arrays: dict[str, np.ndarray] = {}
    if cfg["task"] == "holdout":
        is_anomaly = (data.test_y == cfg["data"]["held_out"]).numpy().astype(np.uint8)
        metrics |= {"ap": {m: average_precision(s, is_anomaly) for m, s in in_scores.items()},
                    "auroc": {m: auroc(s, is_anomaly) for m, s in in_scores.items()},
                    "n_anomalous": int(is_anomaly.sum()), "skew": float(is_anomaly.mean())}
        arrays = {f"{m}_score": s.astype(np.float32) for m, s in in_scores.items()} | {"is_anomaly": is_anomaly}
        return metrics, arrays
    ap: dict[str, dict[str, float]] = {m: {} for m in scorers}
    roc: dict[str, dict[str, float]] = {m: {} for m in scorers}
    n_ood, skew = {}, {}
    for key, x in data.ood.items():
        for m, f in scorers.items():
            out = f(x)
            s, y = _binary(in_scores[m], out)
            ap[m][key], roc[m][key] = average_precision(s, y), auroc(s, y)
            arrays[f"{m}_ood_{key}"] = out.astype(np.float32)
        n_ood[key] = int(len(x))
        skew[key] = len(x) / (len(x) + len(data.test_x))
    arrays |= {f"{m}_in": s.astype(np.float32) for m, s in in_scores.items()}
    metrics |= {"ap": ap, "auroc": roc, "n_ood": n_ood, "skew": skew}
    return metrics, arrays
