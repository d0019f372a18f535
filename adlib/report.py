"""What every notebook ends with: seed summaries, the paper beside ours, and checked claims.

Claims are stored (``results/<paper>/claims/<notebook>.<scale>.json``) by the notebook that
checks them, so the book's status matrix reads outcomes computed from the runs rather than
typed by hand.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from adlib.atomic import atomic_write_bytes
from adlib.results import ResultsStore


@dataclass(frozen=True)
class Claim:
    """One claim of a paper about one artefact, and whether our runs bear it out.

    ``held`` is True/False, or None when the claim cannot be checked at this scale.
    ``evidence`` states the numbers (mean ± std over seeds, and per seed where it matters).
    """

    artefact: str
    claim: str
    held: bool | None
    evidence: str

    @property
    def outcome(self) -> str:
        return {True: "held", False: "NOT held", None: "not checkable"}[self.held]


def claims_frame(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a table for display."""
    return pd.DataFrame([{"artefact": c.artefact, "claim": c.claim, "outcome": c.outcome,
                          "evidence": c.evidence} for c in claims])


def claims_path(store: ResultsStore, paper: str, notebook: str, scale: str) -> Path:
    return store.root / paper / "claims" / f"{notebook}.{scale}.json"


def save_claims(store: ResultsStore, paper: str, notebook: str, scale: str, seeds: Sequence[int],
                claims: Sequence[Claim], artefacts: Sequence[str]) -> Path:
    """Store a notebook's checked claims for the status matrix."""
    path = claims_path(store, paper, notebook, scale)
    payload = {"paper": paper, "notebook": notebook, "scale": scale, "seeds": list(seeds),
               "artefacts": list(artefacts), "claims": [asdict(c) for c in claims]}
    atomic_write_bytes(path, (json.dumps(payload, indent=1, sort_keys=True) + "\n").encode())
    return path


def load_all_claims(store: ResultsStore, paper: str) -> list[dict]:
    """Every stored claims file of a paper."""
    return [json.loads(p.read_text()) for p in sorted((store.root / paper / "claims").glob("*.json"))]


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    arr = np.asarray(list(values), dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def fmt_pm(mean: float, std: float, digits: int = 1) -> str:
    """``"12.3 ± 0.4"``."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def fmt_spread(mean: float, std: float, n: int, digits: int = 1) -> str:
    """:func:`fmt_pm` over ``n`` seeds, or the mean alone for one seed (there is no spread to show,
    and "± 0.0" would claim one)."""
    return fmt_pm(mean, std, digits) if n > 1 else f"{mean:.{digits}f}"


def fmt_over_seeds(values: Iterable[float], digits: int = 1) -> str:
    """``values`` (one per seed) as "mean ± std" (ddof = 1), or the value alone for one seed."""
    values = list(values)
    return fmt_spread(*mean_std(values), len(values), digits)


def is_better(new, old, better: str):
    """Whether ``new`` is better than ``old`` when ``better`` is ``"lower"`` or ``"higher"``
    (elementwise for arrays)."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher'; got {better!r}")
    return new < old if better == "lower" else new > old


def paired_evidence(label_old: str, old: Iterable[float], label_new: str, new: Iterable[float], *,
                    arrow: bool = True, digits: int = 1) -> str:
    """A claim's evidence comparing two methods over the same seeds: both as mean ± std, then the
    per-seed pairs, ``"MSP 36.6 ± 1.8 → +OE 14.2 ± 1.6; per seed 35.0→13.1, …"`` (``arrow=False``:
    ``"A … vs B …; per seed a/b, …"``, for two alternatives rather than a before and after)."""
    old, new = list(old), list(new)
    sep, pair = (" → ", "→") if arrow else (" vs ", "/")
    return (f"{label_old} {fmt_over_seeds(old, digits)}{sep}{label_new} {fmt_over_seeds(new, digits)}; "
            f"per seed {', '.join(f'{a:.{digits}f}{pair}{b:.{digits}f}' for a, b in zip(old, new))}")


def t_half_width(values: Iterable[float], level: float = 0.95) -> float:
    """Half-width of the two-sided Student-t interval of the mean at ``level``,
    t_{(1+level)/2, n−1}·s/√n (s with ddof = 1); NaN for fewer than two values."""
    from scipy.stats import t

    arr = np.asarray(list(values), dtype=float)
    if len(arr) < 2:
        return float("nan")
    return float(t.ppf(0.5 + level / 2, len(arr) - 1) * arr.std(ddof=1) / np.sqrt(len(arr)))


def t_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper) of the Student-t interval of the mean (e.g. of paired differences);
    NaN bounds for fewer than two values."""
    arr = np.asarray(list(values), dtype=float)
    half = t_half_width(arr, level)
    return float(arr.mean()), float(arr.mean() - half), float(arr.mean() + half)


def scale_banner(scale: str, seeds: Sequence[int], extra: str = "") -> str:
    """The one-line label every reproduced number is shown under."""
    from adlib.scales import SCALE_LABELS

    text = f"Scale: {scale} ({SCALE_LABELS[scale]}); seeds {list(seeds)}."
    return text + (f" {extra}" if extra else "")


def sci(x: float) -> str:
    """A rate or weight decay as the book's prose writes it: ``1e-3``, ``5e-7``, ``2e-4``."""
    mantissa, exponent = f"{float(x):.0e}".split("e")
    if abs(float(f"{mantissa}e{exponent}") - float(x)) > 1e-12 * abs(float(x)):
        raise ValueError(f"{x!r} has more than one significant digit; format it another way")
    return f"{mantissa}e{int(exponent)}"
