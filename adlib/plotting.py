"""One figure style for every page of the book (matplotlib rcParams).

Every page notebook calls :func:`adlib.notebook.check_parameters` first, which applies
:data:`BOOK_STYLE`, so figures of all five papers share fonts, sizes, grid and colours; a figure
reads at page width (8 in at 110 dpi ≈ the book's text column). Colours: the Okabe–Ito palette,
distinguishable with the common colour-vision deficiencies.
"""

from __future__ import annotations

from typing import Any

OKABE_ITO: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
                              "#000000")
"""The Okabe–Ito colour-blind-safe palette, blue first."""


def book_style() -> dict[str, Any]:
    """The rcParams of the book's figures."""
    from cycler import cycler

    return {
        "figure.figsize": (8.0, 4.5), "figure.dpi": 110, "savefig.dpi": 110, "figure.autolayout": False,
        "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
        "legend.fontsize": 8, "legend.frameon": False,
        "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.6,
        "axes.spines.top": False, "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=list(OKABE_ITO)), "image.cmap": "viridis",
        "lines.linewidth": 1.6, "lines.markersize": 4,
    }


def use_book_style() -> None:
    """Apply :func:`book_style` to matplotlib (idempotent)."""
    import matplotlib

    matplotlib.rcParams.update(book_style())
