"""hendrycks2019 text experiments: run the grids, lay our numbers out like Tables 2/8 and 6/11,
check the claims. All metric values in the frames are percentages, as in the paper.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from adlib.papers.hendrycks2019.text import EXPERIMENT_NLP, METHODS, OOD_SET_LABELS, RUNNER_LM, RUNNER_NLP, \
    check_text_data, classifier_config, lm_config
from adlib.report import Claim, fmt_pm, is_better, mean_std, paired_evidence
from adlib.results import ResultsStore, RunRecord
from adlib.sweep import run_stages, sweep_threads
from adlib.train import resolve_device

METRICS = ("FPR90", "AUROC", "AUPR")
TASKS = {"classifier": (classifier_config, RUNNER_NLP, "msp"), "lm": (lm_config, RUNNER_LM, "bpt")}
METHOD_LABELS = {"classifier": {"baseline": "MSP", "oe_tune": "+OE"},
                 "lm": {"baseline": "BPT", "oe_tune": "+OE"}}


def run_grid(scale: str, seeds: Sequence[int], *, task: str = "classifier", device: str = "auto",
             force: bool = False, workers: int | None = None, progress: bool = True,
             store: ResultsStore | None = None, in_dataset: str | None = None) -> dict[tuple[str, int], RunRecord]:
    """Run (or load) every (method, seed) of ``task`` (``classifier``: Tables 2/8; ``lm``:
    Tables 6/11); baselines first, since OE fine-tuning starts from their checkpoints."""
    make_config, runner, _ = TASKS[task]
    dev = str(resolve_device(device).type)
    return run_stages(
        [[m] for m in METHODS], seeds,
        lambda m, s: make_config(scale, m, s, device=dev, threads=sweep_threads(dev), in_dataset=in_dataset),
        runner, store=store or ResultsStore.for_scale(scale), force=force, workers=workers, progress=progress,
        check_data=lambda cfg: check_text_data(cfg["data"]), desc=task)  # paper scale: names missing datasets


def summary_long(records: dict[tuple[str, int], RunRecord]) -> pd.DataFrame:
    """One row per (method, seed, OOD set, metric), values in percent, with Mean rows; plus the
    classifier's test accuracy or the LM's test bits per token."""
    rows = []
    for (method, seed), rec in records.items():
        det = next(iter(rec.metrics["ood"]))
        for ood_set, m in rec.metrics["ood"][det].items():
            for metric in METRICS:
                rows.append((method, seed, ood_set, metric, 100 * m[metric]))
        for metric in METRICS:
            rows.append((method, seed, "Mean", metric, 100 * rec.metrics["ood_mean"][det][metric]))
        if "test_accuracy" in rec.metrics:
            rows.append((method, seed, "-", "test_accuracy", 100 * rec.metrics["test_accuracy"]))
        if "test_bits_per_token" in rec.metrics:
            rows.append((method, seed, "-", "test_bits_per_token", rec.metrics["test_bits_per_token"]))
    df = pd.DataFrame(rows, columns=["method", "seed", "ood_set", "metric", "value"])
    first = next(iter(records.values())).config
    df.attrs["task"] = "classifier" if first["experiment"] == EXPERIMENT_NLP else "lm"
    df.attrs["ood_order"] = list(first["data"]["test_ood"])
    return df


def seed_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 8 / Table 11 layout for our runs: rows OOD sets then Mean; columns (metric, method),
    "mean ± std over seeds"."""
    labels = METHOD_LABELS[summary.attrs["task"]]
    table = {}
    for metric in METRICS:
        for method in METHODS:
            col = {}
            for ood_set in [*summary.attrs["ood_order"], "Mean"]:
                vals = summary[(summary.metric == metric) & (summary.method == method) & (summary.ood_set == ood_set)]
                col[OOD_SET_LABELS.get(ood_set, ood_set)] = fmt_pm(*mean_std(vals.value))
            table[(metric, labels[method])] = col
    df = pd.DataFrame(table)
    df.index.name = "D_out^test"
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["metric", "method"])
    return df


def seed_means(summary: pd.DataFrame, ood_set: str = "Mean") -> pd.DataFrame:
    """Per seed × (metric, method) values for one OOD set (percent)."""
    return summary[summary.ood_set == ood_set].pivot_table(index="seed", columns=["metric", "method"], values="value")


def ours_label(summary: pd.DataFrame, scale: str) -> str:
    name = "Markov-chain classes" if summary.attrs["task"] == "classifier" else "Markov-chain language"
    return f"{name} (ours, {scale} scale, mean of {summary.seed.nunique()} seeds)"


def paper_vs_ours(summary: pd.DataFrame, scale: str, artefact: str) -> pd.DataFrame:
    """Table 2 (or Table 6) as printed, plus our row of seed means, plus the OE − baseline effect."""
    from adlib.paper_values import load_values

    paper = load_values("hendrycks2019", artefact)
    wide = paper.pivot_table(index="d_in", columns=["metric", "method"], values="value", sort=False)
    base_label = [m for m in dict.fromkeys(paper.method) if m != "+OE"][0]
    ours = {}
    for metric in METRICS:
        for method, label in (("baseline", base_label), ("oe_tune", "+OE")):
            ours[(metric, label)] = summary[(summary.ood_set == "Mean") & (summary.metric == metric)
                                            & (summary.method == method)].value.mean()
    wide.loc[ours_label(summary, scale)] = pd.Series(ours)
    for metric in METRICS:
        wide[(metric, f"Δ (+OE − {base_label})")] = wide[(metric, "+OE")] - wide[(metric, base_label)]
    wide = wide[[c for metric in METRICS for c in wide.columns if c[0] == metric]]
    wide.index.name = "D_in"
    return wide.round(2)


def paper_expanded(artefact: str) -> pd.DataFrame:
    """Table 8 (or Table 11) as printed, rows (D_in, D_out^test), columns (metric, method)."""
    from adlib.paper_values import pivot_values

    return pivot_values("hendrycks2019", artefact)


def paper_inconsistencies(*artefacts: str) -> pd.DataFrame:
    """The index's notes on printed values that disagree (spec §4.14), shown, not fixed."""
    from adlib.paper_values import get_artefact

    rows = [{"artefact": a, "inconsistency": item["text"]}
            for a in artefacts for item in get_artefact("hendrycks2019", a).get("inconsistencies", [])]
    return pd.DataFrame(rows, columns=["artefact", "inconsistency"])


def claims(summary: pd.DataFrame, artefact: str, expanded: str) -> list[Claim]:
    """Spec §8.1 (d): OE lowers the mean FPR90 and raises the mean AUROC and AUPR of the baseline
    score (every seed); plus, for the expanded table, per OOD set on the seed means."""
    labels = METHOD_LABELS[summary.attrs["task"]]
    per_seed = seed_means(summary)
    out = []
    for metric, better, verb in (("FPR90", "lower", "lowers"), ("AUROC", "higher", "raises"),
                                 ("AUPR", "higher", "raises")):
        base, oe = per_seed[(metric, "baseline")], per_seed[(metric, "oe_tune")]
        out.append(Claim(artefact, f"OE {verb} the mean {metric} of the {labels['baseline']} score (every seed)",
                         bool(is_better(oe, base, better).all()), paired_evidence(labels["baseline"], base, "+OE", oe)))
    worse = []
    for s in summary.attrs["ood_order"]:
        m = seed_means(summary, s)
        if m[("AUROC", "oe_tune")].mean() <= m[("AUROC", "baseline")].mean():
            worse.append(f"{OOD_SET_LABELS.get(s, s)} ({m[('AUROC', 'baseline')].mean():.1f} → "
                         f"{m[('AUROC', 'oe_tune')].mean():.1f})")
    n = len(summary.attrs["ood_order"])
    out.append(Claim(expanded, "Per OOD set, OE raises the AUROC (seed mean)", not worse,
                     "not on: " + ", ".join(worse) if worse else f"holds on all {n} sets"))
    return out


def deviations(scale: str, task: str = "classifier") -> str:
    """What differs from the paper's protocol at this scale (Markdown)."""
    if scale == "paper":
        return ("Paper configuration. The datasets (20 Newsgroups, TREC, SST, WikiText-2, Penn Treebank, SNLI, IMDB, "
                "Multi30K, WMT16, Yelp, English Web Treebank) have no manifests or loaders in this project yet, so "
                "this scale stops with an error that lists them.")
    smoke = scale == "smoke"
    if task == "classifier":
        sizes = "300 training, 100 test and 300 OE sequences, 1 epoch per phase" if smoke else \
            "5,000 training, 1,000 test and 5,000 OE sequences; 5 baseline epochs, 2 OE epochs"
        return "\n".join([
            f"**Scale `{scale}`: a reduced analog, not the paper's setting; its numbers are not comparable "
            "with the paper's.**", "",
            "- Data: a synthetic 5-class token task instead of 20 Newsgroups / TREC / SST. Each class is a random "
            "first-order Markov chain over 200 tokens (Dirichlet(0.1) transition rows), sequences of 10–40 tokens; "
            f"{sizes}.",
            "- OE set: sequences of 20 other random chains and token-shuffled in-distribution sequences, instead of "
            "WikiText-2 sentences.",
            "- Test OOD: 5 unseen chains, low-entropy chains (Dirichlet(0.01) rows), uniformly random tokens and "
            "reversed in-distribution sequences, instead of SNLI, IMDB, Multi30K, WMT16, Yelp and the five "
            "English Web Treebank domains.",
            "- Batches are right-padded and packed, so the GRU's final state is the one after each sequence's own "
            "last token; the official code left-pads and runs the GRU over the pads.",
            "- Unchanged: the network (embedding 50 → 2-layer GRU 128 → linear), Adam at lr 0.01 with a per-epoch "
            "cosine, batch 64 + 64 OE in separate forward passes, λ = 1.0, 2 OE epochs (the paper's number; the "
            "code default is 5, spec §4.14), the MSP score, FPR90, the 1:5 OOD ratio and 10 OOD re-draws per set; "
            "in addition to the paper, each number is a mean over independently trained seeds.",
        ])
    sizes = "200 training, 100 test and 200 OE sequences, 1 epoch per phase" if smoke else \
        "3,000 training, 1,000 test and 3,000 OE sequences; 5 baseline epochs, 2 OE epochs"
    return "\n".join([
        f"**Scale `{scale}`: a reduced analog, not the paper's setting; its numbers are not comparable with the "
        "paper's.**", "",
        "- Data: one random first-order Markov chain over 50 tokens (Dirichlet(0.5) rows) as the language, "
        f"fixed sequences of 70 tokens (the paper's word-level length); {sizes}; instead of Penn Treebank.",
        "- OE set: sequences of 20 other chains with Dirichlet concentrations from 0.02 to 2 (low to high "
        "entropy), instead of WikiText-2.",
        "- Test OOD: chains whose rows are 90 % the in-distribution rows and 10 % new ones (another \"domain\" "
        "of the same language), unseen chains, the in-distribution chain sharpened to low entropy, and uniform "
        "tokens, instead of the five English Web Treebank domains. The 10 % shift was chosen after one pilot "
        "run (seed 0) in which a 50 % shift was already perfectly separated by the baseline, so that this set "
        "is not trivially easy; it was fixed before the three-seed runs shown here, for difficulty, not for a "
        "claim's outcome.",
        "- Model: a 1-layer GRU language model (embedding 64, hidden 128) trained with Adam (lr 0.005, clip "
        "0.25), instead of the QRNN trained with the AWD-LSTM recipe for 50/300 epochs.",
        "- Unchanged: no hidden state carried across sequences, OE = cross-entropy to the uniform distribution "
        "over the vocabulary at every OE position with weight 0.5, bits per token as the score, FPR90, the 1:5 "
        "OOD ratio and 10 OOD re-draws; each number is in addition a mean over independently trained seeds.",
    ])
