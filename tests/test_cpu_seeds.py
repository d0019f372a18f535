"""The pages whose papers run one seed at ``cpu`` scale default to exactly those seeds, so the book
re-computes what the deviation boxes say (and ``make reproduce`` gets the same runs)."""

import ast
from pathlib import Path

import papermill
import pytest

from adlib.papers.ahmed2020 import report as ahmed
from adlib.papers.hendrycks2019 import report as hendrycks
from adlib.papers.ruff2021 import grids as ruff
from adlib.papers.singh2021 import report as singh

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAGES = {
    "ruff2021": (ruff.CPU_SEEDS, ("table1", "table2", "table3", "figure2", "figure7", "blur", "diversity")),
    "ahmed2020": (ahmed.CPU_SEEDS, ("appendix_d", "figure1", "holdout", "masking", "table1", "table2", "table5")),
    "singh2021": (singh.CPU_SEEDS, ("ranges", "combinations", "features", "figure8", "recycle")),
    "hendrycks2019": (hendrycks.CPU_SEEDS, ("calibration", "confidence_branch", "gan_outliers", "language_models",
                                            "nlp_classifiers", "oe_scratch", "pixelcnn", "roc_curves", "table1",
                                            "table10", "table9")),
}


@pytest.mark.parametrize("paper, page", [(p, n) for p, (_, pages) in PAGES.items() for n in pages])
def test_page_defaults_to_its_papers_cpu_seeds(paper, page):
    seeds, _ = PAGES[paper]
    declared = papermill.inspect_notebook(str(NOTEBOOKS / paper / f"{page}.ipynb"))["seeds"]["default"]
    assert ast.literal_eval(declared) == list(seeds)


def test_every_page_with_seeds_is_listed():
    for paper, (_, pages) in PAGES.items():
        with_seeds = {p.stem for p in (NOTEBOOKS / paper).glob("*.ipynb")
                      if "seeds" in papermill.inspect_notebook(str(p))}
        assert with_seeds - set(pages) <= {"figure1", "theory"}, paper  # the toy and simulation pages keep 3
