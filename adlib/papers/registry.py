"""Which notebook reproduces which artefact (table / figure) of which paper.

Notebooks live at ``notebooks/<paper>/<name>.ipynb``; a notebook may cover a close group of
artefacts (hendrycks2019 Table 1 with its expanded Table 7). Artefact ids are those of the
paper-values index (``table7``, ``figure4``, ``appendix_c``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adlib.results import REPO_ROOT


@dataclass(frozen=True)
class NotebookSpec:
    paper: str
    name: str
    artefacts: tuple[str, ...]
    title: str
    not_runnable: str | None = None
    """Why the notebook shows only the paper's values (the status matrix says so), or None."""

    @property
    def path(self) -> Path:
        return REPO_ROOT / "notebooks" / self.paper / f"{self.name}.ipynb"


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec("hendrycks2019", "table1", ("table1", "table7"),
                 "Tables 1 and 7: MSP vs MSP + Outlier Exposure"),
    NotebookSpec("hendrycks2019", "table10", ("table10",), "Table 10: MSP vs −H(U;p) on the OE model"),
    NotebookSpec("hendrycks2019", "roc_curves", ("figure1", "figure4"), "Figures 1 and 4: ROC curves"),
    NotebookSpec("hendrycks2019", "oe_scratch", ("appendix_c",), "Appendix C: Outlier Exposure from scratch"),
    NotebookSpec("hendrycks2019", "table9", ("table9",), "Table 9: an All-Convolutional Network with OE"),
    NotebookSpec("hendrycks2019", "nlp_classifiers", ("table2", "table8"),
                 "Tables 2 and 8: NLP classifiers with OE"),
    NotebookSpec("hendrycks2019", "language_models", ("table6", "table11"),
                 "Tables 6 and 11: language models with OE"),
    NotebookSpec("hendrycks2019", "confidence_branch", ("table3",), "Table 3: confidence branch and OE"),
    NotebookSpec("hendrycks2019", "gan_outliers", ("table4",), "Table 4: GAN-generated outliers and OE"),
    NotebookSpec("hendrycks2019", "pixelcnn", ("table5", "figure2"),
                 "Table 5 and Figure 2: PixelCNN density model with OE"),
    NotebookSpec("hendrycks2019", "calibration", ("table12", "table13", "figure3"),
                 "Tables 12, 13 and Figure 3: calibration"),
    NotebookSpec("ruff2021", "figure1", ("figure1",), "Figure 1: BCE vs HSC decision regions on 2-D toy data"),
    NotebookSpec("ruff2021", "table1", ("table1", "table4", "table5"),
                 "Tables 1, 4 and 5: unsupervised vs supervised OE, one vs rest"),
    NotebookSpec("ruff2021", "table2", ("table2", "table6", "figure9", "figure10"),
                 "Table 2, Table 6, Figures 9 and 10: ImageNet-30 (paper values only)",
                 not_runnable="needs ImageNet-30 and the 14 M-image ImageNet-22K OE set"),
    NotebookSpec("ruff2021", "table3", ("table3",), "Table 3: the HSC's radial function and augmentation"),
    NotebookSpec("ruff2021", "figure2", ("figure2", "figure8"), "Figures 2 and 8: AUC against the number of OE samples"),
    NotebookSpec("ruff2021", "blur", ("figure3", "figure5", "figure6"), "Figures 3, 5 and 6: blurred OE"),
    NotebookSpec("ruff2021", "diversity", ("figure4", "figure11", "figure12"),
                 "Figures 4, 11 and 12: OE diversity"),
    NotebookSpec("ruff2021", "figure7", ("figure7",), "Figure 7: the Focal loss against γ"),
    NotebookSpec("rafiee2021", "table1", ("table1", "table3"),
                 "Tables 1 and 3: AD-CGAN one-vs-all and all-vs-one, per class"),
    NotebookSpec("rafiee2021", "table2", ("table2",), "Table 2: the architecture, layer by layer"),
    NotebookSpec("rafiee2021", "table4", ("table4",),
                 "Table 4: score components, and the contrastive term switched off (beyond the paper)"),
    NotebookSpec("rafiee2021", "figure1", ("figure1",), "Figure 1: the AD-CGAN schematic"),
    NotebookSpec("singh2021", "ranges", ("table2", "table3", "table18", "table19", "table20"),
                 "Tables 2, 3 and 18–20: AUC ranges over combinations of normal classes"),
    NotebookSpec("singh2021", "combinations", ("figure3", "figure4", "table5", "table6", "table7", "table8", "table9",
                                               "table10", "table11", "table12", "table13", "table14", "table15",
                                               "table16", "table17"),
                 "Figures 3, 4 and Tables 5–17: the AUC of every combination of normal classes"),
    NotebookSpec("singh2021", "features", ("table4", "table21", "table22", "figure5", "figure6", "figure7"),
                 "Table 4, Tables 21–22 and Figures 5–7: features of the best and the worst pair"),
    NotebookSpec("singh2021", "figure8", ("figure8",), "Figure 8: DeepMAD with different feature dimensions"),
    NotebookSpec("singh2021", "recycle", ("figure1", "figure2"), "Figures 1 and 2: the RECYCLE dataset (paper values only)",
                 not_runnable="RECYCLE is obtained by hand from the authors' page; adlib has no loader for it"),
    NotebookSpec("singh2021", "theory", ("table1",),
                 "Table 1, Lemma 3.1 and Corollary 3.1.1: combining one-class detectors (simulated)"),
    NotebookSpec("ahmed2020", "holdout", ("table3", "table4"),
                 "Tables 3 and 4: hold-out-class detection with and without rotation"),
    NotebookSpec("ahmed2020", "table2", ("table2",), "Table 2: rotation as an auxiliary task and test accuracy"),
    NotebookSpec("ahmed2020", "masking", ("sec5_2_masking",),
                 "§5.2: improved test accuracy is not enough (random-centre masking)"),
    NotebookSpec("ahmed2020", "figure1", ("figure1",), "Figure 1: AP and accuracy during training"),
    NotebookSpec("ahmed2020", "table5", ("table5", "table6", "appendix_b", "appendix_c"),
                 "Tables 5 and 6, Appendices B and C: fine-grained hold-out subsets"),
    NotebookSpec("ahmed2020", "table1", ("table1", "table7", "figure2", "figure3", "figure4", "figure5", "figure6"),
                 "Tables 1 and 7, Figures 2–6: the fine-grained ImageNet subsets"),
    NotebookSpec("ahmed2020", "appendix_d", ("appendix_d",),
                 "Appendix D: a pixel-level GMM on dataset-vs-dataset OOD benchmarks"),
)


RUNNERS: dict[tuple[str, str], str] = {
    ("hendrycks2019", "vision_oe"): "adlib.papers.hendrycks2019.experiments:run",
    ("hendrycks2019", "confidence_branch"): "adlib.papers.hendrycks2019.confidence_branch:run",
    ("hendrycks2019", "pixelcnn"): "adlib.papers.hendrycks2019.pixelcnn:run",
    ("hendrycks2019", "gan_oe"): "adlib.papers.hendrycks2019.gan_outliers:run",
    ("hendrycks2019", "calibration"): "adlib.papers.hendrycks2019.calibration:run",
    ("hendrycks2019", "nlp_oe"): "adlib.papers.hendrycks2019.text:run_classifier",
    ("hendrycks2019", "lm_oe"): "adlib.papers.hendrycks2019.text:run_language_model",
    ("ruff2021", "oe_one_vs_rest"): "adlib.papers.ruff2021.experiments:run",
    ("ruff2021", "toy2d"): "adlib.papers.ruff2021.toy:run",
    ("rafiee2021", "adcgan"): "adlib.papers.rafiee2021.experiments:run",
    ("singh2021", "multi_class_normal"): "adlib.papers.singh2021.experiments:run",
    ("ahmed2020", "holdout"): "adlib.papers.ahmed2020.experiments:run",
    ("ahmed2020", "pixel_baselines"): "adlib.papers.ahmed2020.appendix_d:run",
}
"""(paper, experiment) -> the runner ("module:function") that produces that experiment's stored
records: what re-creates a stored result from its config alone."""


def runner_for(paper: str, experiment: str) -> str:
    """The runner of a stored experiment; an unknown one is an error listing the known ones."""
    try:
        return RUNNERS[(paper, experiment)]
    except KeyError:
        known = ", ".join(f"{p}/{e}" for p, e in RUNNERS)
        raise ValueError(f"no runner registered for {paper}/{experiment}; known: {known}") from None


def notebooks_for(paper: str | None = None) -> list[NotebookSpec]:
    return [nb for nb in NOTEBOOKS if paper is None or nb.paper == paper]


def notebook_for_artefact(paper: str, artefact: str) -> NotebookSpec | None:
    for nb in NOTEBOOKS:
        if nb.paper == paper and artefact in nb.artefacts:
            return nb
    return None
