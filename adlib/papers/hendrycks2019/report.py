"""hendrycks2019: run the vision grid, lay our numbers out like the paper's tables, check claims.

All metric values in the frames here are percentages, as in the paper.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from adlib.papers.hendrycks2019 import experiments as ex
from adlib.papers.hendrycks2019.experiments import DETECTORS, METHOD_LABELS, METHODS, OOD_SET_LABELS, RUNNER, \
    check_data_present, run_config
from adlib.report import Claim, fmt_over_seeds, is_better, paired_evidence
from adlib.results import ResultsStore, RunRecord
from adlib.sweep import run_stages, sweep_threads
from adlib.train import resolve_device

METRICS = ("FPR95", "AUROC", "AUPR")
CPU_SEEDS = (0,)
"""The seeds the pages run by default (their ``seeds`` parameter) at ``cpu`` scale: one (the spec
§8: 3, seeds 0–2). At 3 seeds the pages took 22.8 min of the book's hour on this 2-core machine; pass
``seeds=[0, 1, 2]`` to a page for a mean ± std over independently trained seeds."""
DETECTOR_LABELS = {"msp": "MSP", "neg_uniform_xent": "−H(U;p)"}


def run_grid(scale: str, seeds: Sequence[int], *, methods: Sequence[str] = METHODS, device: str = "auto",
             force: bool = False, workers: int | None = None, progress: bool = True,
             store: ResultsStore | None = None, in_dataset: str | None = None,
             classes: dict[str, list[int]] | None = None,
             architecture: str = "default") -> dict[tuple[str, int], RunRecord]:
    """Run (or load) every (method, seed); baselines first, since OE fine-tuning starts from them.

    ``in_dataset`` (paper scale), ``classes`` (reduced scales) and ``architecture`` choose the
    data and network, as in :func:`~adlib.papers.hendrycks2019.experiments.run_config`."""
    dev = str(resolve_device(device).type)
    stages = [[m for m in methods if m == "baseline"], [m for m in methods if m != "baseline"]]
    if "oe_tune" in methods and "baseline" not in methods:
        stages[0] = ["baseline"]  # train (or load) the baselines the fine-tuning needs, first
    records = run_stages(
        [s for s in stages if s], seeds,
        lambda m, s: run_config(scale, m, s, device=dev, threads=sweep_threads(dev), in_dataset=in_dataset,
                                classes=classes, architecture=architecture),
        RUNNER, store=store or ResultsStore.for_scale(scale), force=force, workers=workers, progress=progress,
        check_data=lambda cfg: check_data_present(cfg["data"]))
    return {key: rec for key, rec in records.items() if key[0] in methods}


def summary_long(records: dict[tuple[str, int], RunRecord], detectors: Sequence[str] = DETECTORS) -> pd.DataFrame:
    """One row per (method, seed, detector, OOD set, metric); values in percent. Includes Mean rows."""
    rows = []
    for (method, seed), rec in records.items():
        for det in detectors:
            for ood_set, m in rec.metrics["ood"][det].items():
                for metric in METRICS:
                    rows.append((method, seed, det, ood_set, metric, 100 * m[metric]))
            for metric in METRICS:
                rows.append((method, seed, det, "Mean", metric, 100 * rec.metrics["ood_mean"][det][metric]))
        rows.append((method, seed, "-", "-", "test_accuracy", 100 * rec.metrics["test_accuracy"]))
    df = pd.DataFrame(rows, columns=["method", "seed", "detector", "ood_set", "metric", "value"])
    first = next(iter(records.values())).config["data"]
    df.attrs["in_dataset"] = first["in_dataset"]
    df.attrs["ood_order"] = list(first["test_ood"])
    return df


IN_DATASET_LABELS = {"fashion_mnist": "Fashion-MNIST apparel", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
                     "svhn": "SVHN"}


def ours_label(summary: pd.DataFrame, scale: str) -> str:
    """Row label for our numbers: dataset, scale, number of seeds."""
    name = IN_DATASET_LABELS.get(summary.attrs.get("in_dataset", ""), summary.attrs.get("in_dataset", "?"))
    return f"{name} (ours, {scale} scale, {seeds_phrase(summary.seed.nunique())})"


def seeds_phrase(n: int) -> str:
    """What a row of ours is over: "mean of 3 seeds", or "1 seed" (no mean to speak of)."""
    return f"mean of {n} seeds" if n > 1 else f"{n} seed"


def paper_table(artefact: str, **pivot) -> pd.DataFrame:
    """A paper-values artefact laid out like the paper (default rows × (metric, method))."""
    from adlib.paper_values import pivot_values

    return pivot_values("hendrycks2019", artefact, **pivot)


def spread_table(summary: pd.DataFrame, values: Callable[[str, Any, str], Iterable[float]],
                 columns: Sequence[tuple[str, Any]], metrics: Sequence[str] = METRICS,
                 column_level: str = "method") -> pd.DataFrame:
    """Rows: the test-OOD sets (config order) then Mean; columns (metric, label) for each
    ``(label, key)`` of ``columns``; cells "mean ± std over seeds" of ``values(metric, key, ood_set)``."""
    order = [*summary.attrs["ood_order"], "Mean"]
    table = {(metric, label): {OOD_SET_LABELS.get(o, o): fmt_over_seeds(values(metric, key, o)) for o in order}
             for metric in metrics for label, key in columns}
    df = pd.DataFrame(table)
    df.index.name = "D_out^test"
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["metric", column_level])
    return df


def seed_table(summary: pd.DataFrame, detector: str, methods: Sequence[str]) -> pd.DataFrame:
    """Rows: OOD sets then Mean; columns: (metric, method) with "mean ± std over seeds"."""
    sub = summary[(summary.detector == detector) & summary.method.isin(methods)]
    return spread_table(summary, lambda metric, method, o: sub[(sub.metric == metric) & (sub.method == method)
                                                               & (sub.ood_set == o)].value,
                        [(METHOD_LABELS[m], m) for m in methods])


def seed_means(summary: pd.DataFrame, detector: str, ood_set: str = "Mean") -> pd.DataFrame:
    """Per seed × method values of each metric for one detector and OOD set (percent)."""
    sub = summary[(summary.detector == detector) & (summary.ood_set == ood_set)]
    return sub.pivot_table(index="seed", columns=["metric", "method"], values="value")


def accuracy_by_seed(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary.metric == "test_accuracy"].pivot_table(index="seed", columns="method", values="value")


def paper_vs_ours_table1(summary: pd.DataFrame, scale: str, artefact: str = "table1") -> pd.DataFrame:
    """Table 1 (or Table 9, same layout) as printed, plus our row, plus the OE − MSP effect per metric."""
    from adlib.paper_values import load_values

    paper = load_values("hendrycks2019", artefact)
    wide = paper.pivot_table(index="d_in", columns=["metric", "method"], values="value", sort=False)
    sub = summary[(summary.detector == "msp") & (summary.ood_set == "Mean")]
    ours = {}
    for metric in METRICS:
        for method, label in (("baseline", "MSP"), ("oe_tune", "+OE")):
            ours[(metric, label)] = sub[(sub.metric == metric) & (sub.method == method)].value.mean()
    wide.loc[ours_label(summary, scale)] = pd.Series(ours)
    for metric in METRICS:
        wide[(metric, "Δ (+OE − MSP)")] = wide[(metric, "+OE")] - wide[(metric, "MSP")]
    wide = wide[[c for metric in METRICS for c in wide.columns if c[0] == metric]]
    wide.index.name = "D_in"
    return wide.round(1)


def table1_claims(summary: pd.DataFrame, artefact: str = "table1") -> list[Claim]:
    """Claims of Table 1 / Table 7 (or of Table 9, the same claims on the All-Convolutional
    Network) checked on our runs (spec §8.1(d))."""
    per_seed = seed_means(summary, "msp")
    claims = []
    for metric, better, text in (("FPR95", "lower", "OE lowers the mean FPR95 of the MSP detector"),
                                 ("AUROC", "higher", "OE raises the mean AUROC of the MSP detector"),
                                 ("AUPR", "higher", "OE raises the mean AUPR of the MSP detector")):
        msp, oe = per_seed[(metric, "baseline")], per_seed[(metric, "oe_tune")]
        claims.append(Claim(artefact, f"{text} (every seed)", bool(is_better(oe, msp, better).all()),
                            paired_evidence("MSP", msp, "+OE", oe)))
    acc = accuracy_by_seed(summary)
    drop = acc["baseline"] - acc["oe_tune"]
    claims.append(Claim(artefact, "OE fine-tuning costs at most ~1.5 points of test accuracy (seed mean)",
                        bool(drop.mean() <= 1.5),
                        f"accuracy MSP {fmt_over_seeds(acc['baseline'], 2)} %, +OE "
                        f"{fmt_over_seeds(acc['oe_tune'], 2)} %; drop {drop.mean():.2f} points"))
    sets = list(summary.attrs["ood_order"])  # the config's order, whether a record is fresh or loaded
    worse = []
    for s in sets:
        m = seed_means(summary, "msp", s)
        if m[("FPR95", "oe_tune")].mean() > m[("FPR95", "baseline")].mean() + 1:
            worse.append(f"{OOD_SET_LABELS.get(s, s)} ({m[('FPR95', 'baseline')].mean():.1f} → "
                         f"{m[('FPR95', 'oe_tune')].mean():.1f})")
    claims.append(Claim("table7" if artefact == "table1" else artefact,
                        "Per OOD set, OE does not raise FPR95 by more than 1 point (seed mean)",
                        not worse, "worse on: " + ", ".join(worse) if worse else f"holds on all {len(sets)} sets"))
    return claims


def table10_frame(summary: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Table 10 as printed plus our row: MSP vs −H(U;p), both on the OE fine-tuned model."""
    from adlib.paper_values import load_values

    paper = load_values("hendrycks2019", "table10")
    wide = paper.pivot_table(index="d_in", columns=["metric", "method"], values="value", sort=False)
    sub = summary[(summary.method == "oe_tune") & (summary.ood_set == "Mean")]
    methods = list(dict.fromkeys(paper.method))
    ours = {}
    for metric in METRICS:
        for det, label in zip(DETECTORS, methods):
            ours[(metric, label)] = sub[(sub.metric == metric) & (sub.detector == det)].value.mean()
    wide.loc[ours_label(summary, scale)] = pd.Series(ours)
    wide.index.name = "D_in"
    return wide.round(2)


def table10_claims(summary: pd.DataFrame) -> list[Claim]:
    """App. E: with OE, −H(U;p) is at least as good as MSP (checked on the seed means)."""
    sub = summary[(summary.method == "oe_tune") & (summary.ood_set == "Mean")]
    out = []
    for metric, better in (("FPR95", "lower"), ("AUROC", "higher"), ("AUPR", "higher")):
        msp = sub[(sub.metric == metric) & (sub.detector == "msp")].sort_values("seed").value.to_numpy()
        hu = sub[(sub.metric == metric) & (sub.detector == "neg_uniform_xent")].sort_values("seed").value.to_numpy()
        out.append(Claim("table10", f"On the OE model, −H(U;p) gives a {better} mean {metric} than MSP",
                         bool(is_better(hu.mean(), msp.mean(), better)),
                         paired_evidence("MSP", msp, "−H(U;p)", hu, arrow=False, digits=2)))
    return out


def roc_curve_data(record: RunRecord, detector: str, ood_set: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(FPR, TPR, AUROC) over the full stored score pools of one run, anomalies positive."""
    from adlib.metrics import auroc, roc_points

    ins, outs = record.arrays[f"{detector}__in"], record.arrays[f"{detector}__{ood_set}"]
    fpr, tpr = roc_points(ins, outs)
    labels = np.r_[np.zeros(len(ins)), np.ones(len(outs))]
    return fpr, tpr, auroc(np.r_[ins, outs], labels)


def plot_roc_panels(records: dict[tuple[str, int], RunRecord], ood_sets: Sequence[str], seed: int,
                    scale: str, detector: str = "msp"):
    """Figure 1 / Figure 4 analog: one panel per OOD set, baseline vs +OE, random diagonal.

    The paper's figures print no numbers; its Table 7 gives the AUROC of each of its panels
    (stored as ``figure1`` / ``figure4``). Those are another D_in / D_out pair than ours, so they
    are written in a labelled box on the panel whose analog it is (:data:`ROC_PANEL_ANALOGS`),
    "paper (Figure N / Table 7, <D_in> vs <D_out>)", not drawn as curves or points."""
    import matplotlib.pyplot as plt

    from adlib.paper_values import load_values

    artefact = "figure1" if len(ood_sets) == 1 else "figure4"
    paper = load_values("hendrycks2019", artefact)
    analog_of = {ours: theirs for theirs, ours in ROC_PANEL_ANALOGS.items()}
    cols = min(len(ood_sets), 2)  # at most two panels a row: readable at page width
    rows = -(-len(ood_sets) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 4.0 * rows), squeeze=False)
    for ax in axes.flat[len(ood_sets):]:
        ax.remove()
    for ax, ood_set in zip(axes.flat, ood_sets):
        for method, color in (("oe_tune", "tab:blue"), ("baseline", "salmon")):
            fpr, tpr, auc = roc_curve_data(records[(method, seed)], detector, ood_set)
            ax.plot(fpr, tpr, color=color, lw=2, label=f"{METHOD_LABELS[method].replace('MSP', 'Baseline')} "
                                                        f"(AUROC {100 * auc:.1f})")
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="Random")
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False Positive Rate", ylabel="True Positive Rate",
               title=f"{OOD_SET_LABELS.get(ood_set, ood_set)} ROC Curve")
        ax.set_xticks(np.linspace(0, 1, 6))
        ax.legend(loc="lower right", fontsize=8)
        cells = paper[(paper.d_out == analog_of.get(ood_set)) & (paper.metric == "AUROC")]
        if len(cells):
            auc = cells.set_index("method").value
            ax.text(0.97, 0.30, f"paper ({artefact.replace('figure', 'Figure ')} / Table 7,\n"
                                f"{cells.d_in.iloc[0]} vs {cells.d_out.iloc[0]}):\n"
                                f"AUROC Baseline {auc['MSP']:.1f}, +OE {auc['+OE']:.1f}",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=7, gid="paper",
                    bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"})
    fig.suptitle(f"D_in: Fashion-MNIST apparel — {scale} scale, seed {seed}", fontsize=10)
    fig.tight_layout()
    return fig


def appendix_c_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """Test error and mean FPR95 / AUROC / AUPR (MSP score) of the three training regimes."""
    rows = {}
    acc = accuracy_by_seed(summary)
    for method in METHODS:
        sub = summary[(summary.method == method) & (summary.detector == "msp") & (summary.ood_set == "Mean")]
        row = {"test error (%)": fmt_over_seeds(100 - acc[method], 2)}
        for metric in METRICS:
            row[metric] = fmt_over_seeds(sub[sub.metric == metric].sort_values("seed").value, 2)
        rows[METHOD_LABELS[method]] = row
    return pd.DataFrame(rows).T


def appendix_c_claims(summary: pd.DataFrame) -> list[Claim]:
    """App. C: OE from scratch beats OE fine-tuning (FPR95) and the baseline's test error."""
    m = seed_means(summary, "msp")
    tune, scratch = m[("FPR95", "oe_tune")], m[("FPR95", "oe_scratch")]
    acc = accuracy_by_seed(summary)
    err_base, err_scratch = 100 - acc["baseline"], 100 - acc["oe_scratch"]
    return [
        Claim("appendix_c", "Training with OE from scratch gives a lower mean FPR95 than OE fine-tuning "
              "(seed mean)", bool(scratch.mean() < tune.mean()),
              f"fine-tuned {fmt_over_seeds(tune, 2)} vs scratch {fmt_over_seeds(scratch, 2)}"),
        Claim("appendix_c", "OE from scratch does not raise the test error over the baseline (seed mean)",
              bool(err_scratch.mean() <= err_base.mean()),
              f"baseline {fmt_over_seeds(err_base, 2)} % vs scratch {fmt_over_seeds(err_scratch, 2)} %"),
    ]


def plot_per_set(summary: pd.DataFrame, scale: str, detector: str = "msp", artefact: str = "table1"):
    """FPR95 and AUROC per test-OOD set, MSP vs +OE, seed means with ±1 std error bars, beside the
    paper's values.

    One row per metric. Left panel: the paper's ``artefact`` (Table 1, or Table 9 for the
    All-Convolutional Network), MSP vs +OE on each of its D_in, each bar the mean over that D_in's
    test-OOD sets, labelled "paper (Table N, its D_in)": a different dataset from ours at the reduced
    scales, so a separate panel. Right panel: ours. Where our D_in is one of the paper's (paper scale)
    and the score is MSP, the paper's values for the same D_in are also drawn as markers on our bars:
    Table 7's per-set cells (Table 1) on the test-OOD sets both share, or the artefact's mean (Table 9)
    on "Mean".
    """
    import matplotlib.pyplot as plt

    from adlib.paper_values import load_values

    paper = load_values("hendrycks2019", artefact)
    table_no = artefact.removeprefix("table")
    d_ins = list(dict.fromkeys(paper.d_in))
    ours_din = IN_DATASET_LABELS.get(summary.attrs.get("in_dataset", ""), "")
    if artefact == "table1":
        per_set = load_values("hendrycks2019", "table7")
        per_set, per_set_no = per_set[per_set.d_in == ours_din], "7"
    else:
        per_set = paper[paper.d_in == ours_din].assign(d_out="Mean")
        per_set_no = table_no
    sub = summary[(summary.detector == detector) & summary.method.isin(["baseline", "oe_tune"])]
    sets = [*summary.attrs["ood_order"], "Mean"]
    set_labels = [OOD_SET_LABELS.get(s, s).split(" (")[0] for s in sets]
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 7.0), sharey="row",
                             gridspec_kw={"width_ratios": [len(d_ins) + 1, len(sets) + 1]})
    width = 0.38
    colors = {"baseline": "salmon", "oe_tune": "tab:blue"}
    paper_labels = {"baseline": "MSP", "oe_tune": "+OE"}
    for (ax_p, ax_o), metric in zip(axes, ("FPR95", "AUROC")):
        arrow = " ↓" if metric == "FPR95" else " ↑"
        for i, method in enumerate(("baseline", "oe_tune")):
            label = paper_labels[method]
            cells = paper[(paper.metric == metric) & (paper.method == label)].set_index("d_in").value
            ax_p.bar(np.arange(len(d_ins)) + (i - 0.5) * width, cells.reindex(d_ins), width, color=colors[method],
                     label=f"paper {label} (Table {table_no})", gid=f"paper-{metric}-{label}")
            vals = sub[(sub.metric == metric) & (sub.method == method)].groupby("ood_set", sort=False).value
            mean, std = vals.mean().reindex(sets), vals.std(ddof=1).reindex(sets).fillna(0)
            ax_o.bar(np.arange(len(sets)) + (i - 0.5) * width, mean, width, yerr=std, color=colors[method],
                     label=METHOD_LABELS[method], capsize=3)
            if detector == "msp" and len(per_set):
                p = per_set[(per_set.metric == metric) & (per_set.method == label)].set_index("d_out").value
                p = p.reindex(set_labels)
                if p.notna().any():
                    ax_o.plot(np.arange(len(sets)) + (i - 0.5) * width, p.to_numpy(dtype=float), "D",
                              color="black", mfc=colors[method], ms=6, ls="none",
                              label=f"paper {label} (Table {per_set_no}, {ours_din})")
        ax_p.set_xticks(np.arange(len(d_ins)), d_ins, rotation=30, ha="right")
        ax_p.set_title(f"paper (Table {table_no}, its D_in)\nmean over its test-OOD sets", fontsize=9)
        ax_p.set_ylabel(f"{metric} (%){arrow}")
        ax_p.set_ylim(0, 100)
        ax_o.set_xticks(np.arange(len(sets)), set_labels, rotation=30, ha="right")
        ax_o.set_title(f"ours: {ours_din or summary.attrs.get('in_dataset', '?')}, {scale} scale, "
                       f"{seeds_phrase(summary.seed.nunique())}\nper test-OOD set, {DETECTOR_LABELS[detector]} score",
                       fontsize=9)
        if metric == "FPR95":  # one legend per panel, in the row where the bars leave room
            ax_p.legend(fontsize=7)
            ax_o.legend(fontsize=7)
    fig.suptitle("MSP vs +OE per test-OOD set: the paper (left) and ours (right)", fontsize=10)
    fig.tight_layout()
    return fig


ROC_PANEL_ANALOGS = {"Textures": "fmnist_footwear", "Places365": "sklearn_digits", "LSUN": "blobs",
                     "ImageNet": "gaussian"}


def roc_panel_frame(records: dict[tuple[str, int], RunRecord], ood_sets: Sequence[str],
                    seeds: Sequence[int]) -> pd.DataFrame:
    """Figure 4's panels (the paper's Table 7 values for them) beside our analog panels.

    Our AUROC here is over the full stored score pools (the curves plotted), mean ± std over seeds.
    """
    from adlib.paper_values import load_values

    paper = load_values("hendrycks2019", "figure4")
    rows = []
    for (paper_set, _), ours_set in zip(ROC_PANEL_ANALOGS.items(), ood_sets):
        row = {"paper D_out": paper_set}
        for method, label in (("baseline", "MSP"), ("oe_tune", "+OE")):
            p = paper[(paper.d_out == paper_set) & (paper.method == label) & (paper.metric == "AUROC")].value
            row[f"paper AUROC {label}"] = float(p.iloc[0]) if len(p) else float("nan")
        row["our D_out"] = OOD_SET_LABELS.get(ours_set, ours_set)
        for method, label in (("baseline", "MSP"), ("oe_tune", "+OE")):
            aucs = [100 * roc_curve_data(records[(method, s)], "msp", ours_set)[2] for s in seeds]
            row[f"our AUROC {label}"] = fmt_over_seeds(aucs)
        rows.append(row)
    return pd.DataFrame(rows)


def roc_claims(records: dict[tuple[str, int], RunRecord], ood_sets: Sequence[str],
               seeds: Sequence[int]) -> list[Claim]:
    """Figures 1 and 4: the OE curve lies above the baseline's (higher AUROC on every panel and seed);
    and the plotted curve is the one the metric is computed from (its area equals the AUROC)."""
    lower: dict[str, list[str]] = {o: [] for o in ood_sets}
    gaps = []
    for s in seeds:
        for ood_set in ood_sets:
            base = roc_curve_data(records[("baseline", s)], "msp", ood_set)
            tuned = roc_curve_data(records[("oe_tune", s)], "msp", ood_set)
            if tuned[2] <= base[2]:
                lower[ood_set].append(f"{OOD_SET_LABELS.get(ood_set, ood_set)} seed {s} "
                                      f"({100 * base[2]:.1f} → {100 * tuned[2]:.1f})")
            for fpr, tpr, auc in (base, tuned):
                gaps.append(abs(float(np.trapezoid(tpr, fpr)) - auc))
    first = ood_sets[0]
    every = [x for o in ood_sets for x in lower[o]]
    return [
        Claim("figure1", f"On the first panel ({OOD_SET_LABELS.get(first, first)}) the OE curve lies above "
              "the baseline's (higher AUROC, every seed)", not lower[first],
              "lower on: " + "; ".join(lower[first]) if lower[first] else f"holds for {len(seeds)} seed{'s' if len(seeds) > 1 else ''}"),
        Claim("figure4", "On every panel the OE curve lies above the baseline's (higher AUROC, every seed)",
              not every, "lower on: " + "; ".join(every) if every else
              f"holds on {len(ood_sets)} panels × {len(seeds)} seed{'s' if len(seeds) > 1 else ''}"),
        Claim("figure4", "The area under each plotted curve equals the AUROC reported for it",
              bool(max(gaps) < 1e-9), f"largest |area − AUROC| = {max(gaps):.2e}"),
    ]


def deviations(scale: str, architecture: str = "default") -> str:
    """What differs from the paper's protocol at this scale (Markdown)."""
    if scale == "paper":
        net = "All-Convolutional Network" if architecture == "allconvnet" else "WRN"
        return (f"Paper configuration ({net}, the paper's schedules). One deviation: 80 Million Tiny Images was "
                "withdrawn in 2020, so the OE set is the 300K Random Images subset that the official code "
                "points to; expect small numeric differences.")
    cpu = {m: ex.run_config("cpu", m, 0, architecture=architecture) for m in ex.METHODS}
    pre, fine = cpu["oe_tune"]["pretrain"], cpu["oe_tune"]["finetune"]
    sizes = reduced_sizes(scale, cpu["baseline"])
    fine_text = (f"lr {fine['lr']:g}, batch {fine['batch_size']} + {fine['oe_batch_size']} OE), "
                 f"λ = {fine['oe_weight']:g}")
    n_oe = len(cpu["baseline"]["data"]["oe_classes"]) * FMNIST_TRAIN_PER_CLASS
    return "\n".join([
        f"**Scale `{scale}`: a reduced analog, not the paper's setting.**", "",
        f"- In-distribution: Fashion-MNIST apparel classes {{T-shirt, Trouser, Pullover, Dress, Coat, Shirt}}, "
        f"{sizes}; the paper uses SVHN, CIFAR-10/100, Tiny ImageNet, Places365.",
        f"- OE set: Fashion-MNIST training images of Sandal and Bag ({n_oe:,}), instead of 80 Million Tiny Images. "
        "Sandals are footwear, so the footwear test set is closer to the OE data than the paper's test sets are "
        "to 80 Million Tiny Images: its near-perfect +OE numbers say more about that overlap than about OE.",
        "- Test OOD: unseen footwear classes (Sneaker, Ankle boot), sklearn digits upsampled to 28×28, and the "
        "paper's Gaussian, Bernoulli and Blobs generators; the paper's real OOD sets need downloads.",
        (f"- Network: a narrow All-Convolutional Network (two 3×3 convolutions per stage at widths 8 and 16 "
         "instead of three at 96 and 192, then the 3×3/1×1/1×1 head, batch norm and GELU as in App. D); "
         f"{pre['epochs']} baseline epochs at lr {pre['lr']:g}, {fine['epochs']} OE fine-tuning epochs ({fine_text}."
         if architecture == "allconvnet" else
         f"- Network: the official code's small MNIST ConvNet, not a WRN; {pre['epochs']} baseline epochs, "
         f"{fine['epochs']} OE fine-tuning epochs ({fine_text}; OE from scratch "
         f"{cpu['oe_scratch']['scratch']['epochs']} epochs."),
        f"- Unchanged: the losses, the MSP and −H(U;p) scores, the 1:{cpu['baseline']['data']['ood_ratio']} OOD "
        f"ratio and the {cpu['baseline']['data']['n_draws']} OOD re-draws per set.",
        f"- Seeds: {seeds_sentence()}.",
    ])


def seeds_sentence() -> str:
    """The deviation boxes' words on seeds at a reduced scale (no trailing full stop)."""
    n = len(CPU_SEEDS)
    return (f"**{n} seed{'s' if n > 1 else ''}** per run by default at `cpu` scale (the spec: 3), so a ± appears "
            "only where more seeds are passed; each number is then a mean over independently trained seeds, in "
            "addition to the paper's OOD re-draws")


FMNIST_TRAIN_PER_CLASS = 6000
"""Training images per Fashion-MNIST class (the dataset's, not a setting)."""


def reduced_sizes(scale: str, cpu_cfg: dict) -> str:
    """The in-distribution sizes a reduced-scale box states: the cpu run's full classes, or the smoke
    run's subsets (``cpu_cfg`` supplies the classes; the smoke numbers come from the smoke config)."""
    if scale == "cpu":
        k = len(cpu_cfg["data"]["in_classes"])
        n = cpu_cfg["data"]["train_subset"]
        full = f"{k} classes × {FMNIST_TRAIN_PER_CLASS:,}"
        return (f"{n:,} training images (a fixed random subset of the {full} = {k * FMNIST_TRAIN_PER_CLASS:,})"
                if n else f"{k * FMNIST_TRAIN_PER_CLASS:,} training images ({full})")
    smoke = {m: ex.run_config("smoke", m, 0) for m in ex.METHODS}
    epochs = {spec["epochs"] for cfg in smoke.values() for key in ("pretrain", "finetune", "scratch")
              if (spec := cfg.get(key))}
    (n_epochs,) = epochs
    d = smoke["baseline"]["data"]
    return (f"{d['train_subset']:,} training images, {d['test_subset']:,} test images, "
            f"{n_epochs} epoch{'s' if n_epochs != 1 else ''} per phase")
