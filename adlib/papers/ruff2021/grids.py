"""The run grid of every ruff2021 artefact at each scale: which (method, class, seed, OE variant)
configs a table or figure needs. Artefacts share runs through equal configs (see
:mod:`adlib.papers.ruff2021.experiments`), so e.g. Figure 2's largest OE size *is* Table 1.

At ``cpu`` scale (spec §8.3): Table 1 on all ten Fashion-MNIST classes; Figure 2 and the blur,
diversity, radial-function and γ sweeps on the spec's three classes {T-shirt/top, Sandal, Bag}
(one hard, one at the ceiling, one in between); one seed (:data:`CPU_SEEDS`, the spec's plan).
``smoke`` runs one class; ``paper`` the paper's grids on CIFAR-10 (CIFAR-100 OE) and MNIST
(EMNIST-Letters OE).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from adlib.papers.ruff2021.experiments import METHODS, default_protocol, run_config
from adlib.scales import check_scale

SWEEP_CLASSES_CPU = (0, 5, 8)
CPU_SEEDS = (0,)
"""The seeds the book runs at ``cpu`` scale (the notebooks' default ``seeds``): one, as the spec's
§8.3 plans (the paper: 10). At three seeds the grid was 723 runs, over an hour on 2 cores. With
one seed the tables show means with no spread over seeds."""
OE_SIZES_CPU = (1, 8, 64, 512)  # + the full OE pool (24,000 images), which is Table 1's run
OE_SIZES_PAPER = tuple(2 ** i for i in range(0, 21))  # 2⁰ … 2²⁰, then the full set (spec §5)
BLUR_SIGMAS_CPU = (0.0, 1.0, 2.0, 4.0)  # pixels on 28×28 (σ/28 ≈ 0.036–0.14)
BLUR_SIGMAS_PAPER = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
BLUR_OE_SIZE_FMNIST = 64  # the Figure 3 analogue (Figure 6 uses 128 on CIFAR-10)
BLUR_OE_SIZE_CIFAR = 128
OE_K_HELDOUT = (1, 2, 3, 4)  # classes of P1's 4-class OE pool (Figure 4(b) analogue)
OE_K_DIGITS = (1, 2, 5, 10)  # digit classes of P2's OE (Figure 4(a) analogue)
OE_K_MNIST_PAPER = (1, 2, 3, 5, 10, 15, 20, 26)
OE_K_CIFAR_PAPER = (1, 2, 4, 8, 16, 32, 64, 100)
GAMMAS = (0.0, 0.5, 2.0, 4.0)
RADIAL = ("l1", "l2", "l2_squared", "pseudo_huber")

Config = dict[str, Any]


def classes_for(scale: str, artefact: str) -> tuple[int, ...]:
    """Nominal classes an artefact runs at ``scale``."""
    check_scale(scale)
    if scale == "smoke":
        return (0,)
    if scale == "paper" or artefact == "table1":
        return tuple(range(10))
    return SWEEP_CLASSES_CPU


def low_dim_protocol(scale: str) -> str:
    """The low-dimensional-regime protocol (Figures 4(a), 5): MNIST with EMNIST-Letters OE at
    ``paper`` scale, Fashion-MNIST with the digits as OE (P2) at the reduced scales."""
    return "mnist_emnist_oe" if check_scale(scale) == "paper" else "fmnist_digits_oe"


def _grid(scale: str, seeds: Sequence[int], artefact: str, make: Callable[[int, int], list[Config]]) -> list[Config]:
    return [cfg for c in classes_for(scale, artefact) for s in seeds for cfg in make(c, s)]


def table1_configs(scale: str, seeds: Sequence[int], **kw: Any) -> list[Config]:
    """Table 1 (and its per-class Tables 4, 5): every method, full OE, pseudo-Huber HSC, Focal γ = 2.
    At paper scale the CIFAR-10 LeNet has augmentation on (the paper's Table 1 setting)."""
    aug = scale == "paper"
    return _grid(scale, seeds, "table1",
                 lambda c, s: [run_config(scale, m, c, s, augment=aug, **kw) for m in METHODS])


def figure2_configs(scale: str, seeds: Sequence[int], **kw: Any) -> list[Config]:
    """Figure 2 (+ Figs 8-10): HSC and BCE against the number of OE images, then the full set."""
    sizes = OE_SIZES_PAPER if scale == "paper" else OE_SIZES_CPU[:2] if scale == "smoke" else OE_SIZES_CPU
    aug = scale == "paper"
    return _grid(scale, seeds, "figure2", lambda c, s: [
        run_config(scale, m, c, s, oe_size=n, augment=aug, **kw) for m in ("hsc", "bce") for n in (*sizes, None)])


def blur_configs(scale: str, seeds: Sequence[int], *, protocol: str | None = None, **kw: Any) -> list[Config]:
    """Figures 3, 5, 6: HSC and BCE with blurred OE. On P1 (and CIFAR-10) a small OE set
    (64 / 128 images, the Figure 3 / 6 setting); on P2 (and MNIST) the whole OE set (Figure 5)."""
    protocol = protocol or default_protocol(scale)
    sigmas = BLUR_SIGMAS_PAPER if scale == "paper" else BLUR_SIGMAS_CPU[:2] if scale == "smoke" else BLUR_SIGMAS_CPU
    size = {"fmnist_heldout_oe": BLUR_OE_SIZE_FMNIST, "cifar10_cifar100_oe": BLUR_OE_SIZE_CIFAR}.get(protocol)
    aug = protocol == "cifar10_cifar100_oe"
    return _grid(scale, seeds, "blur", lambda c, s: [
        run_config(scale, m, c, s, protocol=protocol, oe_size=size, blur_sigma=sig, augment=aug, **kw)
        for m in ("hsc", "bce") for sig in sigmas])


def diversity_configs(scale: str, seeds: Sequence[int], *, protocol: str | None = None, **kw: Any) -> list[Config]:
    """Figure 4 (+ Figs 11, 12): HSC and BCE with OE from k classes (drawn with the run seed)."""
    protocol = protocol or default_protocol(scale)
    ks = {"fmnist_heldout_oe": OE_K_HELDOUT, "fmnist_digits_oe": OE_K_DIGITS, "mnist_emnist_oe": OE_K_MNIST_PAPER,
          "cifar10_cifar100_oe": OE_K_CIFAR_PAPER}[protocol]
    if scale == "smoke":
        ks = ks[:2]
    aug = protocol == "cifar10_cifar100_oe"
    full = ks[-1]
    return _grid(scale, seeds, "diversity", lambda c, s: [
        run_config(scale, m, c, s, protocol=protocol, oe_k=None if k == full else k, augment=aug, **kw)
        for m in ("hsc", "bce") for k in ks])


def baseline_configs(scale: str, seeds: Sequence[int], *, protocol: str | None = None, artefact: str = "blur",
                     **kw: Any) -> list[Config]:
    """The no-OE Deep SVDD baseline on a protocol's test set (a horizontal line in the figures)."""
    protocol = protocol or default_protocol(scale)
    return _grid(scale, seeds, artefact, lambda c, s: [run_config(scale, "deep_svdd", c, s, protocol=protocol, **kw)])


def table3_configs(scale: str, seeds: Sequence[int], **kw: Any) -> list[Config]:
    """Table 3: HSC with each radial function h, with and without data augmentation, full OE."""
    return _grid(scale, seeds, "table3", lambda c, s: [
        run_config(scale, "hsc", c, s, h=h, augment=aug, **kw) for aug in (False, True) for h in RADIAL])


def figure7_configs(scale: str, seeds: Sequence[int], **kw: Any) -> list[Config]:
    """Figure 7: the Focal classifier for γ ∈ {0, 0.5, 2, 4}, full OE (γ = 0 is BCE up to α)."""
    aug = scale == "paper"
    return _grid(scale, seeds, "figure7", lambda c, s: [
        run_config(scale, "focal", c, s, gamma=g, augment=aug, **kw) for g in GAMMAS])


def all_cpu_configs(seeds: Sequence[int] = CPU_SEEDS, **kw: Any) -> list[Config]:
    """Every cpu-scale config of the paper, the cheap, central artefacts first (one sweep can
    produce them all; duplicates are run once)."""
    scale = "cpu"
    groups = [
        table1_configs(scale, seeds, **kw),
        blur_configs(scale, seeds, **kw),
        blur_configs(scale, seeds, protocol="fmnist_digits_oe", **kw),
        baseline_configs(scale, seeds, protocol="fmnist_digits_oe", **kw),
        diversity_configs(scale, seeds, **kw),
        diversity_configs(scale, seeds, protocol="fmnist_digits_oe", **kw),
        figure7_configs(scale, seeds, **kw),
        table3_configs(scale, seeds, **kw),
        figure2_configs(scale, seeds, **kw),
    ]
    return [cfg for group in groups for cfg in group]
