"""ahmed2020 book pages: which runs each page needs, and the paper's numbers beside ours.

Aggregation (spec §2.1, §8.2-5): per class, mean ± std over seeds; the "Average" row averages over
the held-out classes within each seed, then takes mean ± std of that average over seeds (the
paper's tiny ± on its Average rows, e.g. 96.03 ± 0.00, only fits this reading). std is the
population std (``ddof=0``; the paper does not say). AP and accuracy are shown in percent.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from adlib.papers.ahmed2020 import experiments as ex
from adlib.paper_values import paper_printed
from adlib.report import Claim, fmt_spread
from adlib.scales import check_scale
from adlib.sweep import PaperRunner

CPU_SEEDS = (0,)
"""The seeds the pages run by default (their ``seeds`` parameter) at ``cpu`` scale: one. The spec
asks for 3 (the paper's); at 3 the reduced runs alone took over an hour on 2 cores. Pass
``seeds=[0, 1, 2]`` to a page for the spec's count."""

PAGES: tuple[str, ...] = ("table2", "holdout", "table5", "masking", "figure1", "aux_variant")
"""The pages whose runs :func:`book_configs` lists."""

FIGURE1_CLASSES = {"fmnist": (0, 4, 8), "digits": (3, 5, 8), "cifar10": (0, 3, 8), "stl10": (0, 3, 8)}
"""The three held-out classes per row of Figure 1 (the paper does not say which it plotted)."""


def benchmarks_at(scale: str) -> dict[str, str]:
    """The paper's benchmark → the one run at ``scale`` (itself at paper scale)."""
    if scale == "paper":
        return {"cifar10": "cifar10", "stl10": "stl10"}
    return {"cifar10": "fmnist", "stl10": "digits"}


def fine_grained_at(scale: str) -> tuple[str, ...]:
    if scale == "paper":
        return tuple(f"imagenet_{s}" for s in ex.IMAGENET_SUBSETS)
    return ("fmnist_tops", "fmnist_footwear")


def _classes(scale: str, bench: str) -> tuple[int, ...]:
    k = len(ex.benchmark(bench).members)
    if scale == "smoke":
        return (0, k - 1) if bench in ("fmnist", "cifar10") else (0,)
    return tuple(range(k))


def book_configs(page: str, scale: str, seeds: Sequence[int], *, device: str = "cpu") -> list[dict[str, Any]]:
    """Every run config a page needs (pages share runs: the store keeps each once).

    * ``table2``: the K-way classifiers (nothing held out), classification vs rotation;
    * ``holdout``: Tables 3 and 4 — every held-out class, classification vs rotation;
    * ``table5``: Table 5 / Appendix B (rotation) and, at paper scale, Table 6 / Appendix C (CPC);
    * ``masking``: the §5.2 table — adds the masked runs to ``holdout``'s CIFAR-10 ones;
    * ``figure1``: classification runs of three held-out classes per benchmark (their curves);
    * ``aux_variant``: the public code's flips/transposes against the paper's rotations, on the
      first seed only at cpu scale (the comparison is beyond the paper).
    """
    scale = check_scale(scale)
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; valid: {', '.join(PAGES)}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    if scale == "smoke":
        seeds = seeds[:1]
    b = benchmarks_at(scale)
    cfg = lambda bench, held, method, seed, **kw: ex.run_config(scale, bench, held, method, seed, device=device, **kw)  # noqa: E731
    out: list[dict[str, Any]] = []
    if page == "table2":
        for bench in b.values():
            out += [cfg(bench, None, m, s) for m in ("classification", "rotation") for s in seeds]
    elif page == "holdout":
        for bench in b.values():
            out += [cfg(bench, c, m, s) for c in _classes(scale, bench) for m in ("classification", "rotation")
                    for s in seeds]
    elif page == "table5":
        for bench in fine_grained_at(scale):
            out += [cfg(bench, c, m, s) for c in _classes(scale, bench) for m in ("classification", "rotation")
                    for s in seeds]
            if scale == "paper":
                out += [cfg(bench, c, m, s, network="cpc") for c in _classes(scale, bench)
                        for m in ("classification", "cpc") for s in seeds]
    elif page == "masking":
        bench = b["cifar10"]
        out += [cfg(bench, c, m, s) for c in _classes(scale, bench) for m in ("classification", "rotation", "masking")
                for s in seeds]
    elif page == "figure1":
        for paper_bench, bench in b.items():
            classes = FIGURE1_CLASSES[bench] if scale != "smoke" else _classes(scale, bench)[:1]
            out += [cfg(bench, c, "classification", seeds[0], curves=True) for c in classes]
    elif page == "aux_variant":
        bench = b["cifar10"]
        variant_seeds = seeds if scale == "paper" else seeds[:1]
        out += [cfg(bench, c, "rotation", s, aux_transforms=t) for c in _classes(scale, bench)
                for t in ("rotation", "flip_transpose") for s in variant_seeds]
    return out


def all_book_configs(scale: str, seeds: Sequence[int], *, device: str = "cpu") -> list[dict[str, Any]]:
    """The union of every page's runs, each once, in page order."""
    from adlib.results import config_hash

    seen: dict[str, dict[str, Any]] = {}
    for page in PAGES:
        for c in book_configs(page, scale, seeds, device=device):
            seen.setdefault(config_hash(c), c)
    return list(seen.values())


# ------------------------------------------------------------------------------------------------
# runs → frames
# ------------------------------------------------------------------------------------------------

PAPER_METHOD = {"classification": "Classification-only", "rotation": "Rotation-augmented", "cpc": "CPC-augmented"}
"""Our method → the label of the paper's Tables 3–6 and Appendices B and C."""
METRICS: tuple[str, ...] = ("MSP AP", "ODIN AP", "Accuracy")


run_configs = PaperRunner(ex.RUNNER, check=ex.check_data_present, desc=f"{ex.PAPER} runs")
"""Run the configs not yet stored (all with ``force``), load the rest; one record per config."""


def runs_frame(records: Iterable[Any]) -> pd.DataFrame:
    """One row per run (a run listed by two pages counts once): benchmark, held-out member, method,
    auxiliary variant, seed, and ``MSP AP``, ``ODIN AP``, ``Accuracy``, ``MSP AUROC``,
    ``ODIN AUROC``, ``skew`` in percent (AP: the held-out class positive)."""
    from adlib.results import unique_records

    rows = []
    for rec in unique_records(records):
        cfg, m = rec.config, rec.metrics
        d = cfg["data"]
        held = d["held_out"]
        aux = cfg.get("aux") or {}
        row = {"benchmark": d["benchmark"], "held_out": held,
               "class_name": None if held is None else ex.benchmark(d["benchmark"]).class_names[held],
               "method": cfg["method"], "network": cfg["model"]["name"],
               "aux_transforms": aux.get("transforms"), "seed": cfg["seed"], "scale": cfg["scale"],
               "Accuracy": 100 * m["accuracy"]}
        if "ap" in m:
            row |= {"MSP AP": 100 * m["ap"]["msp"], "ODIN AP": 100 * m["ap"]["odin"],
                    "MSP AUROC": 100 * m["auroc"]["msp"], "ODIN AUROC": 100 * m["auroc"]["odin"],
                    "skew": 100 * m["skew"]}
        rows.append(row)
    return pd.DataFrame(rows)


def _select(df: pd.DataFrame, bench: str, methods: Sequence[str], transforms: str = "rotation") -> pd.DataFrame:
    """The runs of ``bench`` with ``methods`` (rotation runs with the given auxiliary transforms)."""
    out = df[(df.benchmark == bench) & df.method.isin(methods)]
    return out[(out.method != "rotation") | (out.aux_transforms == transforms)]


def _pm(values: Iterable[float]) -> str:
    """"mean ± std" over seeds (ddof = 0), or the value alone where one seed was run."""
    v = np.asarray(list(values), dtype=float)
    return fmt_spread(float(v.mean()), float(v.std()), len(v), digits=2)


def class_table(df: pd.DataFrame, bench: str, methods: Sequence[str] = ("classification", "rotation"),
                metrics: Sequence[str] = METRICS, transforms: str = "rotation") -> pd.DataFrame:
    """The paper's per-class layout (Tables 3, 4, Appendices B, C): a row per held-out class,
    columns (method, metric) as "mean ± std" over seeds, and the "Average" row (the per-seed average
    over classes, then mean ± std over seeds; std with ddof = 0)."""
    sel = _select(df[df.held_out.notna()], bench, methods, transforms)
    names = ex.benchmark(bench).class_names
    out = {}
    for method in methods:
        runs = sel[sel.method == method]
        for metric in metrics:
            col = {}
            for held, g in runs.groupby("held_out"):
                col[names[int(held)]] = _pm(g[metric])
            col["Average"] = _pm(runs.groupby("seed")[metric].mean())
            out[(PAPER_METHOD.get(method, ex.METHOD_LABELS[method]), metric)] = col
    frame = pd.DataFrame(out)
    return frame.reindex([n for n in names if n in frame.index] + ["Average"])


def seed_averages(df: pd.DataFrame, bench: str, method: str, metric: str, transforms: str = "rotation") -> pd.Series:
    """Per seed, the average of ``metric`` over the held-out classes (index: seed)."""
    sel = _select(df[df.held_out.notna()], bench, (method,), transforms)
    return sel.groupby("seed")[metric].mean()


def class_means(df: pd.DataFrame, bench: str, method: str, metric: str, transforms: str = "rotation") -> pd.Series:
    """Per held-out class, the mean of ``metric`` over seeds (index: held-out member)."""
    sel = _select(df[df.held_out.notna()], bench, (method,), transforms)
    return sel.groupby("held_out")[metric].mean()


def paper_class_table(artefact: str) -> pd.DataFrame:
    """The paper's Table 3 / 4 (or an Appendix B / C subset) in :func:`class_table`'s layout."""
    from adlib.paper_values import load_values

    v = load_values(ex.PAPER, artefact)
    key = "held_out_class"
    frame = v.pivot_table(index=key, columns=["method", "metric"], values="printed", aggfunc="first", sort=False)
    return frame.reindex(columns=[(m, k) for m in v.method.unique() for k in METRICS if (m, k) in frame.columns])


def paper_average(artefact: str, method: str, metric: str, **where: str) -> float:
    """A paper value of the "Average" row (or a Table 5 / 6 subset row)."""
    from adlib.paper_values import load_values

    v = load_values(ex.PAPER, artefact)
    for col, val in where.items():
        v = v[v[col] == val]
    if "held_out_class" in v.columns:
        v = v[v.held_out_class.isin(["Mean", "Average"])]  # the transcription names the "Average" row "Mean"
    hit = v[(v.method == method) & (v.metric == metric)]
    if len(hit) != 1:
        raise LookupError(f"{artefact}: no unique paper value for {method}/{metric} {where}")
    return float(hit.value.iloc[0])


def averages_frame(df: pd.DataFrame, scale: str, pairs: Sequence[tuple[str, str, str]],
                   methods: Sequence[str] = ("classification", "rotation")) -> pd.DataFrame:
    """Average rows side by side: for each (label, our benchmark, paper artefact), the paper's
    average and ours (mean ± std over seeds of the per-seed class average), per method and metric."""
    rows = []
    for label, bench, artefact in pairs:
        for method in methods:
            for metric in METRICS:
                ours = seed_averages(df, bench, method, metric)
                if ours.empty:
                    continue
                rows.append({"benchmark (paper → ours)": label, "method": PAPER_METHOD[method], "metric": metric,
                             "paper": paper_average(artefact, PAPER_METHOD[method], metric),
                             f"ours ({scale})": _pm(ours),
                             "random AP (skew)": f"{float(df[df.benchmark == bench]['skew'].mean()):.2f}"
                             if metric != "Accuracy" else ""})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# claims
# ------------------------------------------------------------------------------------------------


def _gain(old: pd.Series, new: pd.Series) -> tuple[bool, float, int]:
    """(held, mean gain, seeds with a gain): held when the mean over seeds of the paired gain is
    positive and more than half of the seeds gain."""
    both = pd.concat([old.rename("old"), new.rename("new")], axis=1).dropna()
    diff = both.new - both.old
    ups = int((diff > 0).sum())
    return bool(diff.mean() > 0 and ups > len(diff) / 2), float(diff.mean()), ups


def _gain_claim(artefact: str, text: str, old: pd.Series, new: pd.Series, labels: tuple[str, str], paper: str,
                extra: str = "") -> Claim:
    from adlib.report import paired_evidence

    held, mean, ups = _gain(old, new)
    evidence = (f"{paired_evidence(labels[0], old.tolist(), labels[1], new.tolist(), digits=2)}; "
                f"gain {mean:+.2f} (up in {ups}/{len(old)} seeds){extra}. Paper: {paper}.")
    return Claim(artefact, text, held, evidence)


def holdout_claims(df: pd.DataFrame, bench: str, artefact: str, paper_label: str) -> list[Claim]:
    """Tables 3 / 4: rotation raises the average MSP and ODIN AP and the accuracy; ODIN beats MSP
    most of the time; every average AP is above the random detector's (skew)."""
    claims = []
    for metric in METRICS:
        cls, rot = (seed_averages(df, bench, m, metric) for m in ("classification", "rotation"))
        per_class = (class_means(df, bench, "rotation", metric) > class_means(df, bench, "classification", metric))
        paper_cls = paper_average(artefact, "Classification-only", metric)
        paper_rot = paper_average(artefact, "Rotation-augmented", metric)
        what = "accuracy" if metric == "Accuracy" else f"average {metric}"
        claims.append(_gain_claim(
            artefact, f"The rotation auxiliary task raises the {what} over the held-out classes",
            cls, rot, ("classification-only", "rotation"),
            f"{paper_label} {paper_cls:.2f} → {paper_rot:.2f} ({paper_rot - paper_cls:+.2f})",
            f"; per class (seed means) up in {int(per_class.sum())}/{len(per_class)}"))
    counts = {}
    for method in ("classification", "rotation"):
        better = class_means(df, bench, method, "ODIN AP") > class_means(df, bench, method, "MSP AP")
        counts[method] = (int(better.sum()), len(better))
    wins = sum(c[0] for c in counts.values())
    cells = sum(c[1] for c in counts.values())
    paper_counts = {art: paper_odin_wins(art) for art in ("table3", "table4")}
    claims.append(Claim(artefact, "ODIN (T = 1000, ε = 5e-5, fixed) beats MSP most of the time", wins > cells / 2,
                        f"ODIN > MSP (seed means) for {counts['classification'][0]}/{counts['classification'][1]} "
                        f"classes classification-only, {counts['rotation'][0]}/{counts['rotation'][1]} with rotation "
                        f"({wins}/{cells} in all). Paper: {paper_counts.get(artefact, '')}."))
    skew = float(df[df.benchmark == bench]["skew"].mean())
    avgs = {f"{m}/{k}": float(seed_averages(df, bench, m, k).mean()) for m in ("classification", "rotation")
            for k in ("MSP AP", "ODIN AP")}
    claims.append(Claim(artefact, "Every average AP is above the random detector's (the skew)",
                        all(v > skew for v in avgs.values()),
                        f"skew {skew:.2f}; " + ", ".join(f"{k} {v:.2f}" for k, v in avgs.items()) + "."))
    return claims


def table2_frame(df: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Table 2: the K-way accuracy (nothing held out) with and without rotation, the paper's beside."""
    from adlib.paper_values import load_values

    paper = load_values(ex.PAPER, "table2")
    label = {"classification": "Classification only", "rotation": "Classification+rotation"}
    rows = []
    for paper_bench, bench in benchmarks_at(scale).items():
        full = df[(df.benchmark == bench) & df.held_out.isna()]
        for method in ("classification", "rotation"):
            acc = full[full.method == method].sort_values("seed").Accuracy
            p = paper[(paper.dataset == ex.BENCHMARKS[paper_bench].label) & (paper.method == label[method])]
            rows.append({"method": label[method], "paper benchmark": ex.BENCHMARKS[paper_bench].label,
                         "paper": p.printed.iloc[0], f"ours: {ex.benchmark(bench).label} ({scale})": _pm(acc),
                         "ours, per seed": ", ".join(f"{a:.2f}" for a in acc)})
    return pd.DataFrame(rows)


def table2_claims(df: pd.DataFrame, scale: str) -> list[Claim]:
    """Table 2: rotation raises the K-way test accuracy, on each benchmark."""
    from adlib.paper_values import load_values

    paper = load_values(ex.PAPER, "table2")
    claims = []
    for paper_bench, bench in benchmarks_at(scale).items():
        full = df[(df.benchmark == bench) & df.held_out.isna()]
        acc = {m: full[full.method == m].set_index("seed").Accuracy.sort_index() for m in ("classification", "rotation")}
        p = paper[paper.dataset == ex.BENCHMARKS[paper_bench].label].set_index("method").value
        claims.append(_gain_claim(
            "table2", f"Rotation raises the test accuracy ({ex.benchmark(bench).label}, "
                      f"for the paper's {ex.BENCHMARKS[paper_bench].label})",
            acc["classification"], acc["rotation"], ("classification-only", "rotation"),
            f"{p['Classification only']:.2f} → {p['Classification+rotation']:.2f}"))
    return claims


def fine_grained_frame(df: pd.DataFrame, scale: str, methods: Sequence[str] = ("classification", "rotation")) -> pd.DataFrame:
    """Table 5 (and Table 6 with ``methods=("classification", "cpc")`` at paper scale): per subset,
    the skew and the subset-average MSP AP, ODIN AP and accuracy, mean ± std over seeds."""
    rows = []
    for bench in fine_grained_at(scale):
        runs = df[df.benchmark == bench]
        if runs.empty:
            continue
        row = {"subset": ex.benchmark(bench).label, ("Random detector", "Skew"): f"{100 * ex.skew(bench):.2f}"}
        for method in methods:
            sub = runs[runs.method == method]
            if method == "classification" and "cpc" in methods:
                sub = sub[sub.network.str.contains("cpc")]
            elif method == "classification":
                sub = sub[~sub.network.str.contains("cpc")]
            for metric in METRICS:
                row[(PAPER_METHOD[method], metric)] = _pm(sub.groupby("seed")[metric].mean())
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("subset")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def fine_grained_claims(df: pd.DataFrame, scale: str) -> list[Claim]:
    """Table 5: fine-grained hold-out is harder (AP / skew below the coarse benchmark's); every
    subset average is above skew; rotation raises the subset-average MSP AP (the paper: all 5
    subsets, by +0.12 to +1.70). Table 6 (CPC): checkable at paper scale only."""
    coarse = benchmarks_at(scale)["cifar10"]
    coarse_ratio = float(seed_averages(df, coarse, "classification", "MSP AP").mean()) / (100 * ex.skew(coarse))
    ratios, above, gains = {}, {}, []
    for bench in fine_grained_at(scale):
        cls = seed_averages(df[~df.network.str.contains("cpc")], bench, "classification", "MSP AP")
        if cls.empty:
            continue
        rot = seed_averages(df, bench, "rotation", "MSP AP")
        label = ex.benchmark(bench).label
        ratios[label] = float(cls.mean()) / (100 * ex.skew(bench))
        above[label] = bool(cls.mean() > 100 * ex.skew(bench) and rot.mean() > 100 * ex.skew(bench))
        gains.append((label, *_gain(cls, rot)))
    p5 = table5_paper_prose_numbers()
    claims = [
        Claim("table5", "Fine-grained hold-out is harder: the MSP AP relative to the skew is lower than on the "
                        "coarse benchmark", all(r < coarse_ratio for r in ratios.values()),
              f"AP/skew (classification-only MSP): {ex.benchmark(coarse).label} {coarse_ratio:.2f}; "
              + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()) + f". Paper: {p5['ratio_lo']}–{p5['ratio_hi']}× skew on "
              f"ImageNet subsets against {p5['ratio_cifar10']}× on CIFAR-10."),
        Claim("table5", "Every subset-average MSP AP is above the random detector's", all(above.values()),
              ", ".join(f"{k}: {'above' if v else 'NOT above'}" for k, v in above.items()) + "."),
        Claim("table5", f"Rotation raises the subset-average MSP AP (paper: {p5['rot_msp_subsets']} subsets, "
                        f"{p5['gain_lo']} to {p5['gain_hi']})",
              all(g[1] for g in gains),
              "; ".join(f"{label} {mean:+.2f} (up in {ups} seeds)" for label, _, mean, ups in gains) + "."),
    ]
    cpc = df[df.method == "cpc"]
    cpc_text = (f"CPC raises the subset-average MSP AP ({p5['cpc_msp_subsets']}) and accuracy "
                f"({p5['cpc_acc_subsets']})")
    if cpc.empty:
        claims.append(Claim("table6", cpc_text, None,
                            "CPC runs on the ImageNet subsets at paper scale only (not run at this scale)."))
    else:
        base = df[(df.method == "classification") & df.network.str.contains("cpc")]
        res = []
        for bench in cpc.benchmark.unique():
            for metric in ("MSP AP", "Accuracy"):
                res.append((ex.benchmark(bench).label, metric,
                            *_gain(base[base.benchmark == bench].groupby("seed")[metric].mean(),
                                   cpc[cpc.benchmark == bench].groupby("seed")[metric].mean())))
        claims.append(Claim("table6", cpc_text,
                            all(r[2] for r in res),
                            "; ".join(f"{b} {m} {g:+.2f}" for b, m, _, g, _ in res) + "."))
    return claims


def masking_frame(df: pd.DataFrame, scale: str) -> pd.DataFrame:
    """The §5.2 table: accuracy and MSP AP averaged over hold-out trials, base / masked / rotation."""
    from adlib.paper_values import load_values

    paper = load_values(ex.PAPER, "sec5_2_masking").set_index(["method", "metric"]).printed
    bench = benchmarks_at(scale)["cifar10"]
    rows = []
    for method, label in (("classification", "Base model"), ("masking", "Random-center-masked"),
                          ("rotation", "Rotation-augmented")):
        row = {"method": label}
        for metric, paper_metric in (("Accuracy", "Accuracy"), ("MSP AP", "Av. Prec. with MSP")):
            row[("paper (CIFAR-10)", paper_metric)] = paper[(label, paper_metric)]
            row[(f"ours ({ex.benchmark(bench).label}, {scale})", paper_metric)] = _pm(
                seed_averages(df, bench, method, metric))
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def masking_claims(df: pd.DataFrame, scale: str) -> list[Claim]:
    """§5.2: masking raises accuracy; it does not raise AP (within 2 points of the base, the spec's
    tolerance: the paper's drop is −0.51, about one std); rotation's AP is above masking's."""
    bench = benchmarks_at(scale)["cifar10"]
    acc = {m: seed_averages(df, bench, m, "Accuracy") for m in ("classification", "masking")}
    ap = {m: seed_averages(df, bench, m, "MSP AP") for m in ("classification", "masking", "rotation")}
    mask_vs_base = float((ap["masking"] - ap["classification"]).mean())
    p = {(m, k): paper_printed(ex.PAPER, "sec5_2_masking", method=m, metric=k)
         for m in ("Base model", "Random-center-masked", "Rotation-augmented")
         for k in ("Accuracy", "Av. Prec. with MSP")}
    msp = "Av. Prec. with MSP"
    return [
        _gain_claim("sec5_2_masking", "Random-centre masking raises the test accuracy", acc["classification"],
                    acc["masking"], ("base", "masked"),
                    f"{p[('Base model', 'Accuracy')]} → {p[('Random-center-masked', 'Accuracy')]}"),
        Claim("sec5_2_masking", "Masking does not raise the MSP AP (within 2 points of the base model)",
              mask_vs_base <= 2.0, f"masked − base MSP AP {mask_vs_base:+.2f} (seed means of the class average). "
                                   f"Paper: {p[('Base model', msp)]} → {p[('Random-center-masked', msp)]}."),
        _gain_claim("sec5_2_masking", "Rotation's MSP AP is above masking's", ap["masking"], ap["rotation"],
                    ("masked", "rotation"), f"{p[('Random-center-masked', msp)]} vs {p[('Rotation-augmented', msp)]}"),
    ]


def aux_variant_frame(df: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Beyond the paper: the rotation task with the paper's rotations against the public code's
    flips/transposes, per held-out class and averaged (the seeds both variants ran)."""
    bench = benchmarks_at(scale)["cifar10"]
    rot = df[(df.benchmark == bench) & (df.method == "rotation") & df.held_out.notna()]
    seeds = sorted(set(rot[rot.aux_transforms == "flip_transpose"].seed))
    rot = rot[rot.seed.isin(seeds)]
    names = ex.benchmark(bench).class_names
    table = rot.pivot_table(index="held_out", columns="aux_transforms", values=list(METRICS), aggfunc="mean")
    table.index = [names[int(i)] for i in table.index]
    table.loc["Average"] = table.mean()
    for metric in METRICS:
        table[(metric, "flip_transpose − rotation")] = table[(metric, "flip_transpose")] - table[(metric, "rotation")]
    return table.sort_index(axis=1).round(2)


# ------------------------------------------------------------------------------------------------
# Figure 1: curves
# ------------------------------------------------------------------------------------------------


def curves_frame(records: Iterable[Any]) -> pd.DataFrame:
    """One row per (run, epoch) of the runs that logged curves: train loss, test cost, test accuracy
    and MSP AP (percent)."""
    rows = []
    for rec in records:
        c = rec.metrics.get("curves")
        if not c or rec.config["data"]["held_out"] is None:
            continue
        d = rec.config["data"]
        for e in range(len(c["train_loss"])):
            rows.append({"benchmark": d["benchmark"], "held_out": d["held_out"],
                         "class_name": ex.benchmark(d["benchmark"]).class_names[d["held_out"]],
                         "seed": rec.config["seed"], "epoch": e + 1, "train loss": c["train_loss"][e],
                         "test cost": c["test_cost"][e], "test accuracy": 100 * c["test_accuracy"][e],
                         "MSP AP": 100 * c["ap_msp"][e]})
    return pd.DataFrame(rows).drop_duplicates(["benchmark", "held_out", "seed", "epoch"])


def plot_curves(curves: pd.DataFrame, scale: str):
    """Figure 1's layout: a row per benchmark, panels cost / accuracy / MSP AP against epoch, a
    curve per held-out class.

    No paper values: the paper gives this figure only as a plot (training curves; no numbers
    printed), so nothing of the paper is overlaid."""
    import matplotlib.pyplot as plt

    benches = list(dict.fromkeys(curves.benchmark))
    fig, axes = plt.subplots(len(benches), 3, figsize=(12, 3.2 * len(benches)), squeeze=False)
    for row, bench in zip(axes, benches):
        sub = curves[curves.benchmark == bench]
        for name, g in sub.groupby("class_name", sort=False):
            for ax, col in zip(row, ("test cost", "test accuracy", "MSP AP")):
                ax.plot(g.epoch, g[col], marker="o", ms=3, label=f"held out: {name}")
        for ax, col in zip(row, ("test cost (normal classes)", "test accuracy (%)", "MSP AP (%), held-out positive")):
            ax.set_title(f"{ex.benchmark(bench).label}: {col}", fontsize=9)
            ax.set_xlabel("epoch")
        row[2].legend(fontsize=7)
    fig.suptitle(f"Figure 1 analogue ({scale} scale, classification-only, seed {int(curves.seed.min())})", fontsize=10)
    fig.tight_layout()
    return fig


def figure1_claims(curves: pd.DataFrame, df: pd.DataFrame) -> list[Claim]:
    """Figure 1: (a) within a run, AP follows the test accuracy's coarse shape (Spearman ρ over
    epochs > 0 for at least 2 of the 3 classes per benchmark); (b) across held-out classes the
    final accuracy does not predict the AP (|Spearman ρ| < 0.5 over all classes, classification-only
    seed means; the paper's own tables give −0.07 on CIFAR-10 but +0.74 on STL-10)."""
    from scipy.stats import spearmanr

    claims = []
    paper_rho = {art: paper_accuracy_ap_rho(art) for art in ("table3", "table4")}
    for bench, sub in curves.groupby("benchmark", sort=False):
        rhos = {name: float(spearmanr(g["test accuracy"], g["MSP AP"]).statistic)
                for name, g in sub.groupby("class_name", sort=False)}
        positive = sum(r > 0 for r in rhos.values())
        claims.append(Claim("figure1", f"Within a run the MSP AP follows the test accuracy's shape "
                                       f"({ex.benchmark(bench).label})", positive >= 2,
                            "Spearman ρ over epochs: " + ", ".join(f"{k} {v:+.2f}" for k, v in rhos.items())
                            + f" ({positive}/{len(rhos)} positive)."))
        acc = class_means(df, bench, "classification", "Accuracy")
        ap = class_means(df, bench, "classification", "MSP AP")
        if len(acc) >= 3:
            rho = float(spearmanr(acc, ap).statistic)
            claims.append(Claim("figure1", f"Across held-out classes the accuracy does not predict the AP "
                                           f"({ex.benchmark(bench).label})", abs(rho) < 0.5,
                                f"Spearman ρ(accuracy, MSP AP) over {len(acc)} classes = {rho:+.2f}. Paper's "
                                f"tables: {paper_rho['table3']} (CIFAR-10), {paper_rho['table4']} (STL-10)."))
    return claims


def plot_holdout(df: pd.DataFrame, bench: str, artefact: str, scale: str, metric: str = "MSP AP"):
    """Per held-out class, ``metric`` without and with rotation: ours (mean over seeds, the seeds as
    dots) beside the paper's (its Table 3 / 4, another dataset at reduced scale), the skew dashed."""
    import matplotlib.pyplot as plt

    from adlib.paper_values import load_values

    paper = load_values(ex.PAPER, artefact)
    paper = paper[(paper.metric == metric) & ~paper.held_out_class.isin(["Mean", "Average"])]
    names = ex.benchmark(bench).class_names
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=False)
    width = 0.4
    for k, method in enumerate(("classification", "rotation")):
        runs = _select(df[df.held_out.notna()], bench, (method,))
        means = runs.groupby("held_out")[metric].mean()
        x = np.arange(len(names)) + (k - 0.5) * width
        axes[0].bar(x, [means.get(i, np.nan) for i in range(len(names))], width, label=PAPER_METHOD[method])
        for _, r in runs.iterrows():
            axes[0].plot(int(r.held_out) + (k - 0.5) * width, r[metric], "k.", ms=3)
        p = paper[paper.method == PAPER_METHOD[method]]
        axes[1].bar(np.arange(len(p)) + (k - 0.5) * width, p.value, width, yerr=p["std"], label=PAPER_METHOD[method])
    axes[0].set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes[1].set_xticks(range(len(p)), list(p.held_out_class), rotation=45, ha="right")
    skew_ours = float(df[df.benchmark == bench]["skew"].mean())
    axes[0].axhline(skew_ours, ls="--", c="grey", lw=1, label="random detector (skew)")
    axes[1].axhline(10.0, ls="--", c="grey", lw=1, label="random detector (skew)")
    axes[0].set_title(f"ours: {ex.benchmark(bench).label} ({scale} scale; dots = seeds)")
    axes[1].set_title(f"paper: {paper.dataset.iloc[0]} ({artefact.replace('table', 'Table ')}, ± std)")
    for ax in axes:
        ax.set_ylabel(f"{metric} (%), held-out class positive")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def table5_paper_prose_numbers() -> dict[str, str]:
    """The paper's Table 5 / 6 and Appendix B / C summaries that the page's introduction quotes,
    computed from the stored values (never typed): the range over subsets of the classification-only
    MSP AP / skew (``ratio_lo``, ``ratio_hi``, one decimal), of rotation's gain in subset-average MSP
    AP (``gain_lo``, ``gain_hi``, two decimals, as the tables print), the members where rotation
    raises the MSP AP (``rot_msp_members``, "28 of 43"), the subsets where CPC raises it
    (``cpc_msp_subsets``, "5/5") and the members where CPC raises the accuracy (``cpc_acc_members``);
    for the claims also the subsets where rotation raises the MSP AP (``rot_msp_subsets``), those
    where CPC raises the accuracy (``cpc_acc_subsets``) and CIFAR-10's classification-only MSP AP /
    skew from Table 3 (``ratio_cifar10``, one decimal)."""
    from adlib.paper_values import load_values

    def subsets(artefact):
        return load_values(ex.PAPER, artefact).pivot_table(index="subset", columns=["method", "metric"],
                                                           values="value", aggfunc="first", sort=False)

    def members(artefact):
        v = load_values(ex.PAPER, artefact)
        v = v[~v.held_out_class.isin(["Mean", "Average"])]
        return v.pivot_table(index=["subset", "held_out_class"], columns=["method", "metric"], values="value",
                             aggfunc="first", sort=False)

    base = "Classification-only"
    t5, t6 = subsets("table5"), subsets("table6")
    ratio = t5[(base, "MSP AP")] / t5[("Random detector", "Skew")]
    gain = t5[("Rotation-augmented", "MSP AP")] - t5[(base, "MSP AP")]
    b, c = members("appendix_b"), members("appendix_c")
    rot_up = int((b[("Rotation-augmented", "MSP AP")] > b[(base, "MSP AP")]).sum())
    rot_subsets = int((gain > 0).sum())
    cpc_acc_subsets = int((t6[("CPC-augmented", "Accuracy")] > t6[(base, "Accuracy")]).sum())
    cifar10 = paper_average("table3", base, "MSP AP") / (100 * ex.skew("cifar10"))
    cpc_up = int((t6[("CPC-augmented", "MSP AP")] > t6[(base, "MSP AP")]).sum())
    cpc_acc = int((c[("CPC-augmented", "Accuracy")] > c[(base, "Accuracy")]).sum())
    return {"ratio_lo": f"{ratio.min():.1f}", "ratio_hi": f"{ratio.max():.1f}",
            "gain_lo": f"{gain.min():+.2f}", "gain_hi": f"{gain.max():+.2f}",
            "rot_msp_members": f"{rot_up} of {len(b)}", "cpc_msp_subsets": f"{cpc_up}/{len(t6)}",
            "cpc_acc_members": f"{cpc_acc}/{len(c)}", "rot_msp_subsets": f"{rot_subsets}/{len(t5)}",
            "cpc_acc_subsets": f"{cpc_acc_subsets}/{len(t6)}", "ratio_cifar10": f"{cifar10:.1f}"}


def _paper_per_class(artefact: str) -> pd.DataFrame:
    """The paper's Table 3 / 4 values, a row per held-out class, columns (method, metric)."""
    from adlib.paper_values import load_values

    v = load_values(ex.PAPER, artefact)
    v = v[~v.held_out_class.isin(["Mean", "Average"])]
    return v.pivot_table(index="held_out_class", columns=["method", "metric"], values="value", aggfunc="first",
                         sort=False)


def paper_odin_wins(artefact: str) -> str:
    """In the paper's Table 3 / 4: for how many held-out classes ODIN AP > MSP AP, per method
    ("8/10 classification-only, 7/10 rotation"), counted from the stored values."""
    t = _paper_per_class(artefact)
    wins = {m: int((t[(m, "ODIN AP")] > t[(m, "MSP AP")]).sum()) for m in ("Classification-only", "Rotation-augmented")}
    return (f"{wins['Classification-only']}/{len(t)} classification-only, "
            f"{wins['Rotation-augmented']}/{len(t)} rotation")


def paper_accuracy_ap_rho(artefact: str) -> str:
    """Spearman ρ(accuracy, MSP AP) over the held-out classes of the paper's Table 3 / 4
    (classification-only), two decimals with its sign: computed from the stored values."""
    from scipy.stats import spearmanr

    t = _paper_per_class(artefact)
    base = "Classification-only"
    rho = float(spearmanr(t[(base, "Accuracy")], t[(base, "MSP AP")]).statistic)
    return f"{rho:+.2f}".replace("-", "−")


def deviations(scale: str) -> str:
    """The hold-out pages' box: how the runs at ``scale`` differ from the paper's protocol (Markdown),
    its numbers formatted from the configs the runs use (:func:`experiments.run_config`)."""
    from adlib.models import create_model

    scale = check_scale(scale)
    open_choices = (
        "Choices the paper leaves open, fixed here: the two updates alternate on the same augmented minibatch with "
        "one SGD optimiser; BatchNorm running statistics are frozen during the rotation step "
        "(`aux_bn_stats=\"frozen\"`, spec §8.2); ODIN perturbs the normalised input; ± is the population std "
        "(ddof = 0) over seeds, and an \"Average\" row averages over classes within a seed first.")
    paper = {b: ex.run_config("paper", b, 0, "rotation", 0) for b in ("cifar10", "stl10")}
    pt = paper["cifar10"]["train"]
    paper_drops = "/".join(str(m) for m in pt["lr_milestones"])
    if scale == "paper":
        return (f"**How the runs differ from the paper.** At `paper` scale the notebook trains the paper's networks "
                f"on CIFAR-10 ({pt['epochs']} epochs), STL-10 ({paper['stl10']['train']['epochs']} epochs) and the "
                f"ImageNet subsets, with all {paper['cifar10']['aux']['rotations_per_image']} rotations per image "
                f"(a GPU and the downloaded data). {open_choices}")
    coarse, small = benchmarks_at(scale)["cifar10"], benchmarks_at(scale)["stl10"]
    c = ex.run_config(scale, coarse, 0, "rotation", 0)
    s = ex.run_config(scale, small, 0, "rotation", 0)
    width = c["model"]["width"]
    n_params = sum(p.numel() for p in create_model("small_convnet", num_classes=len(ex.benchmark(coarse).members) - 1,
                                                   width=width).parameters())
    per_class = c["data"]["train_per_class"]
    fractions = "/".join(str(m) for m in ex._milestones(100))

    def drops(cfg: dict[str, Any]) -> str:
        return f"{'/'.join(str(m) for m in cfg['train']['lr_milestones'])} of {cfg['train']['epochs']}"

    def epochs(n: int) -> str:
        return f"{n} epoch{'s' if n != 1 else ''}"
    rot = c["aux"]["rotations_per_image"]
    rotations = ("one random rotation per image instead of all four (¼ of the cost)" if rot == 1
                 else f"{rot} rotations per image")
    test_per_class = c["data"]["test_per_class"]
    sizes = (f"{per_class} training and {test_per_class} test images per class (the held-out class's test images "
             "too, so the skew is the paper's)" if per_class and test_per_class else
             f"{per_class} training images per class" if per_class else "")
    data = (f"{sizes}, " if sizes else "") + epochs(c["train"]["epochs"])
    small_data = ((f"{s['data']['train_per_class']} training images per class, " if s["data"]["train_per_class"]
                   else "") + epochs(s["train"]["epochs"]))
    lambdas = sorted({c["train"]["aux_weight"], s["train"]["aux_weight"]})
    intro = ("every number is a reduced analogue" if scale == "cpu"
             else "the numbers mean nothing (tiny subsets, for the tests)")
    return (f"**How the runs differ from the paper.** At `{scale}` scale {intro}: Fashion-MNIST stands in for "
            f"CIFAR-10 ({data}) and scikit-learn's 8×8 digits for STL-10 (the small-data regime, {small_data}), on a "
            f"small CNN (w = {width}, {n_params:,} parameters"
            + (f", weights stored `{c['model']['memory_format']}`" if "memory_format" in c["model"] else "")
            + ") rather than WRN-28-10 or the 4-group WRN; "
            f"λ is the paper's ({' and '.join(f'{v:.1f}' for v in lambdas)}), not re-tuned; {rotations}; the LR is "
            f"divided by {1 / c['train']['lr_gamma']:g} at epochs {drops(c)} and {drops(s)}"
            + (f", i.e. at {fractions} % of the run rounded" if scale == "cpu" else "")
            + f" (the paper's {paper_drops} of {pt['epochs']})"
            + (f"; **{len(CPU_SEEDS)} seed** per run by default (the paper and the spec: 3), so a ± appears only "
               "where more seeds are passed" if scale == "cpu" else "")
            + f". {open_choices} At `paper` scale the "
            "notebook trains the paper's networks on CIFAR-10, "
            "STL-10 and the ImageNet subsets (a GPU and the downloaded data).")
