"""hendrycks2019 (Outlier Exposure): the text experiments, defined once for the three scales.

* **NLP classifiers** (§4.3, Tables 2 and 8; spec §2.9): a 2-layer GRU classifier trained with
  cross-entropy (``baseline``, scored by MSP), then fine-tuned with OE (``oe_tune``): λ = 1.0,
  H(U; p) on a separate forward pass of the OE batch, Adam lr 0.01 with a per-epoch cosine.
* **Language models** (§4.4, Tables 6 and 11; spec §2.8): a next-token model trained by
  maximum likelihood (``baseline``, scored by bits per token), then fine-tuned with OE
  (``oe_tune``): the cross-entropy to the uniform distribution over the vocabulary at every
  position of OE sequences, weight 0.5 (official code), no hidden state carried across sequences.

Both are evaluated with FPR90 (instead of FPR95), AUROC and AUPR, OOD : in = 1 : 5 and 10 draws
of the OOD subset (spec §3, "NLP").

At the ``smoke`` and ``cpu`` scales the data are synthetic Markov-chain "languages"
(:mod:`adlib.data.markov_text`, spec §8.1) that exercise the same code path. At ``paper`` scale
the configs name the paper's datasets (20 Newsgroups, TREC, SST, WikiText-2, Penn Treebank, the
NLP OOD sets); this project has no manifests for them, so running that scale is an error that
lists them (:func:`check_text_data`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from adlib.data import markov_text as mt
from adlib.detectors import get_detector
from adlib.losses import outlier_exposure_loss, uniform_cross_entropy
from adlib.models import create_model
from adlib.results import config_hash
from adlib.scales import check_scale
from adlib.train import _atomic_torch_save, checkpoint_dir, progress_enabled, read_checkpoint, resolve_device, \
    seed_everything

PAPER = "hendrycks2019"
EXPERIMENT_NLP = "nlp_oe"
EXPERIMENT_LM = "lm_oe"
RUNNER_NLP = "adlib.papers.hendrycks2019.text:run_classifier"
RUNNER_LM = "adlib.papers.hendrycks2019.text:run_language_model"
METHODS: tuple[str, ...] = ("baseline", "oe_tune")
FPR_LEVEL = 0.9  # NLP and LM tables report FPR90 (spec §3)

# paper scale (spec §2.8, §2.9, §6): in-distribution sets and what they need
PAPER_NLP_DATASETS = ("20newsgroups", "trec", "sst")
PAPER_NLP_OOD = ("snli", "imdb", "multi30k", "wmt16", "yelp", "ewt_answers", "ewt_email", "ewt_newsgroups",
                 "ewt_reviews", "ewt_weblog")
PAPER_LM_DATASETS = ("ptb_char", "ptb_word")
PAPER_LM_OOD = ("ewt_answers", "ewt_email", "ewt_newsgroups", "ewt_reviews", "ewt_weblog")
PAPER_OE = "wikitext2"

OOD_SET_LABELS = {
    "unseen_chains": "Unseen chains",
    "low_entropy_chains": "Low-entropy chains (Dirichlet 0.01)",
    "uniform_tokens": "Uniform tokens",
    "reversed_in": "Reversed in-distribution",
    "shifted_chains": "Shifted chains (90% in-dist + 10% new rows)",
    "sharpened_chains": "Sharpened in-dist chain (low entropy)",
    **{n: n.replace("_", " ").upper() if n.startswith("ewt") else n.upper() for n in PAPER_NLP_OOD},
}


# ---------------------------------------------------------------------------------------------
# configs


@dataclass(frozen=True)
class TextTrainSpec:
    """One training phase of the text models (official NLP code: Adam, cosine per epoch).

    Adam at ``lr``; ``CosineAnnealingLR(T_max=epochs)`` stepped once per epoch; with
    ``oe_batch_size`` > 0 each step adds ``oe_weight`` times the OE term of an OE batch, run in
    its own forward pass. ``clip`` > 0 clips the gradient norm (the LM code's ``--clip``).
    """

    epochs: int
    batch_size: int
    lr: float
    oe_batch_size: int = 0
    oe_weight: float = 1.0
    clip: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_text_choice(scale: str, in_dataset: str | None = None, task: str = "classifier") -> None:
    """Check a notebook's data choice. At ``paper`` scale this raises, naming the datasets
    without manifests (no text dataset has one in this project)."""
    check_scale(scale)
    valid = PAPER_NLP_DATASETS if task == "classifier" else PAPER_LM_DATASETS
    if scale != "paper":
        if in_dataset not in (None, "markov"):
            raise ValueError(f"at scale {scale!r} the data are synthetic Markov-chain languages; "
                             f"in_dataset {in_dataset!r} needs scale='paper'")
        return
    if in_dataset is not None and in_dataset not in valid:
        raise ValueError(f"paper-scale in-distribution dataset {in_dataset!r} is not configured; valid: "
                         f"{', '.join(valid)}")
    data = (_paper_nlp_data if task == "classifier" else _paper_lm_data)(in_dataset or valid[0])
    check_text_data(data)


def required_text_datasets(data: dict[str, Any]) -> list[str]:
    """Dataset names a data config reads (none for the synthetic languages)."""
    if data["in_dataset"] == "markov":
        return []
    return list(dict.fromkeys([data["in_dataset"], data["oe_source"], *data["test_ood"]]))


def check_text_data(data: dict[str, Any]) -> None:
    """Raise ValueError listing the datasets of ``data`` that have no manifest in ``data_manifests/``
    (then, for those that have one, DatasetMissingError if absent)."""
    from adlib.data.manifests import list_manifests, locate

    needed = required_text_datasets(data)
    if not needed:
        return
    known = set(list_manifests())
    missing = [n for n in needed if n not in known]
    if missing:
        raise ValueError(
            f"paper scale for {data['in_dataset']!r} needs the datasets {', '.join(needed)}; these have no "
            f"manifest in data_manifests/ and no loader in adlib.data: {', '.join(missing)}. Add manifests "
            "and text loaders for them (the English Web Treebank needs an LDC licence), or run scale='cpu'.")
    for name in needed:
        locate(name)


def _paper_nlp_data(in_dataset: str) -> dict[str, Any]:
    return {"in_dataset": in_dataset, "oe_source": PAPER_OE, "test_ood": list(PAPER_NLP_OOD),
            "vocab_max": 10_000, "fix_length": 100 if in_dataset == "20newsgroups" else None,
            "lowercase": True, "pad_first": True, "ood_ratio": 5, "n_draws": 10}


def _paper_lm_data(in_dataset: str) -> dict[str, Any]:
    return {"in_dataset": in_dataset, "oe_source": PAPER_OE, "test_ood": list(PAPER_LM_OOD),
            "seq_len": 150 if in_dataset == "ptb_char" else 70, "ood_ratio": 5, "n_draws": 10}


def classifier_config(scale: str, method: str, seed: int, *, device: str = "cpu", threads: int = 1,
                      in_dataset: str | None = None) -> dict[str, Any]:
    """The full, JSON-able config of one NLP-classifier run (Tables 2 and 8)."""
    check_scale(scale)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if scale == "paper":
        name = in_dataset or PAPER_NLP_DATASETS[0]
        if name not in PAPER_NLP_DATASETS:
            raise ValueError(f"paper-scale dataset {name!r} is not configured; valid: {', '.join(PAPER_NLP_DATASETS)}")
        data = _paper_nlp_data(name)
        k = {"20newsgroups": 20, "trec": 50, "sst": 2}[name]
        model = {"name": "gru_classifier", "vocab_size": 10_002, "num_classes": k, "padding_idx": 1}
        pretrain = TextTrainSpec(epochs=5, batch_size=64, lr=0.01)
        finetune = TextTrainSpec(epochs=2, batch_size=64, lr=0.01, oe_batch_size=64, oe_weight=1.0)
    else:
        smoke = scale == "smoke"
        vocab, k = 200, 5
        data = {"in_dataset": "markov", "data_seed": 0, "vocab_size": vocab, "n_classes": k,
                "concentration": 0.1, "length": [10, 40],
                "n_train": 300 if smoke else 5000, "n_test": 100 if smoke else 1000,
                "oe_chains": 20, "n_oe": 300 if smoke else 5000, "oe_shuffled_fraction": 0.5,
                "test_ood": ["unseen_chains", "low_entropy_chains", "uniform_tokens", "reversed_in"],
                "ood_chains": 5, "low_entropy_concentration": 0.01,
                "ood_ratio": 5, "n_draws": 2 if smoke else 10}
        model = {"name": "gru_classifier", "vocab_size": vocab + 1, "num_classes": k, "padding_idx": vocab}
        pretrain = TextTrainSpec(epochs=1 if smoke else 5, batch_size=64, lr=0.01)
        finetune = TextTrainSpec(epochs=1 if smoke else 2, batch_size=64, lr=0.01, oe_batch_size=64, oe_weight=1.0)
    cfg: dict[str, Any] = {"paper": PAPER, "experiment": EXPERIMENT_NLP, "scale": scale, "method": method,
                           "seed": int(seed), "device": device, "threads": int(threads), "data": data,
                           "model": model, "pretrain": pretrain.to_dict()}
    if method == "oe_tune":
        cfg["finetune"] = finetune.to_dict()
    return cfg


def lm_config(scale: str, method: str, seed: int, *, device: str = "cpu", threads: int = 1,
              in_dataset: str | None = None) -> dict[str, Any]:
    """The full, JSON-able config of one language-model run (Tables 6 and 11)."""
    check_scale(scale)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if scale == "paper":
        name = in_dataset or PAPER_LM_DATASETS[0]
        if name not in PAPER_LM_DATASETS:
            raise ValueError(f"paper-scale dataset {name!r} is not configured; valid: {', '.join(PAPER_LM_DATASETS)}")
        data = _paper_lm_data(name)
        # QRNN (spec §2.8); PTB-char: 4 layers, nhid 1550, emsize 400; word 300 / char 50 epochs
        model = {"name": "qrnn_lm", "vocab_size": 50 if name == "ptb_char" else 10_000}
        pretrain = TextTrainSpec(epochs=50 if name == "ptb_char" else 300, batch_size=20, lr=30.0, clip=0.2)
        finetune = TextTrainSpec(epochs=5, batch_size=20, lr=30.0, oe_batch_size=20, oe_weight=0.5, clip=0.2)
    else:
        smoke = scale == "smoke"
        vocab = 50
        data = {"in_dataset": "markov", "data_seed": 0, "vocab_size": vocab, "concentration": 0.5,
                "seq_len": 70, "n_train": 200 if smoke else 3000, "n_test": 100 if smoke else 1000,
                "oe_chains": 20, "oe_concentration_range": [0.02, 2.0], "n_oe": 200 if smoke else 3000,
                "test_ood": ["shifted_chains", "unseen_chains", "sharpened_chains", "uniform_tokens"],
                "ood_chains": 2, "shift_weight": 0.1, "sharpen_power": 3.0,
                "ood_ratio": 5, "n_draws": 2 if smoke else 10}
        model = {"name": "gru_lm", "vocab_size": vocab}
        pretrain = TextTrainSpec(epochs=1 if smoke else 5, batch_size=32, lr=0.005, clip=0.25)
        finetune = TextTrainSpec(epochs=1 if smoke else 2, batch_size=32, lr=0.005, oe_batch_size=32,
                                 oe_weight=0.5, clip=0.25)
    cfg: dict[str, Any] = {"paper": PAPER, "experiment": EXPERIMENT_LM, "scale": scale, "method": method,
                           "seed": int(seed), "device": device, "threads": int(threads), "data": data,
                           "model": model, "pretrain": pretrain.to_dict()}
    if method == "oe_tune":
        cfg["finetune"] = finetune.to_dict()
    return cfg


# ---------------------------------------------------------------------------------------------
# data


@dataclass
class TokenSet:
    """Right-padded token ids (N, T) with their lengths (N,), and labels where there are classes."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_sequences(cls, seqs: list[np.ndarray], pad: int, labels: np.ndarray | None = None) -> "TokenSet":
        tokens, lengths = mt.pad_sequences(seqs, pad, side="right")
        return cls(torch.from_numpy(tokens), torch.from_numpy(lengths),
                   None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64)))

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens of ``idx`` trimmed to their longest sequence, and their lengths."""
        lengths = self.lengths[idx]
        return self.tokens[idx, :int(lengths.max())], lengths


@dataclass
class TextData:
    train: TokenSet
    oe: TokenSet
    test: TokenSet
    ood: dict[str, TokenSet]


def _rng(data: dict[str, Any], part: int) -> np.random.Generator:
    """An independent stream per data component, so adding one leaves the others unchanged."""
    return np.random.default_rng(np.random.SeedSequence([int(data["data_seed"]), part]))


def _split_classes(chains: list[mt.MarkovChain], n: int, length, rng: np.random.Generator):
    k = len(chains)
    seqs: list[np.ndarray] = []
    labels: list[int] = []
    for c, chain in enumerate(chains):
        m = n // k + (1 if c < n % k else 0)
        seqs += mt.sample_sequences(chain, m, length, rng)
        labels += [c] * m
    order = rng.permutation(len(seqs))
    return [seqs[i] for i in order], np.asarray(labels, dtype=np.int64)[order]


def build_classifier_data(data: dict[str, Any]) -> TextData:
    """The synthetic k-class token task of spec §8.1 (Table 2 / Table 8 plan), deterministic in
    ``data_seed``: k in-distribution chains (Dirichlet(α) rows); OE = sequences of other random
    chains plus token-shuffled in-distribution training sequences; test OOD = unseen chains,
    low-entropy chains, uniform tokens, and reversed in-distribution test sequences."""
    check_text_data(data)
    v, k, alpha, length = data["vocab_size"], data["n_classes"], data["concentration"], tuple(data["length"])
    pad = v
    rng = _rng(data, 0)
    chains = [mt.random_chain(v, alpha, rng) for _ in range(k)]
    train_seqs, train_y = _split_classes(chains, data["n_train"], length, _rng(data, 1))
    test_seqs, test_y = _split_classes(chains, data["n_test"], length, _rng(data, 2))

    rng = _rng(data, 3)  # OE: other chains and shuffled in-distribution sequences
    n_shuf = int(round(data["n_oe"] * data["oe_shuffled_fraction"]))
    oe_chains = [mt.random_chain(v, alpha, rng) for _ in range(data["oe_chains"])]
    oe_seqs = _split_classes(oe_chains, data["n_oe"] - n_shuf, length, rng)[0]
    pick = rng.choice(len(train_seqs), size=n_shuf, replace=n_shuf > len(train_seqs))
    oe_seqs += mt.shuffle_tokens([train_seqs[i] for i in pick], rng)
    oe_seqs = [oe_seqs[i] for i in rng.permutation(len(oe_seqs))]

    pool = data["n_draws"] * (data["n_test"] // data["ood_ratio"])
    ood: dict[str, TokenSet] = {}
    for j, name in enumerate(data["test_ood"]):
        rng = _rng(data, 100 + j)
        if name == "unseen_chains":
            seqs = _split_classes([mt.random_chain(v, alpha, rng) for _ in range(data["ood_chains"])], pool,
                                  length, rng)[0]
        elif name == "low_entropy_chains":
            seqs = _split_classes([mt.random_chain(v, data["low_entropy_concentration"], rng)
                                   for _ in range(data["ood_chains"])], pool, length, rng)[0]
        elif name == "uniform_tokens":
            seqs = mt.uniform_sequences(v, pool, length, rng)
        elif name == "reversed_in":
            seqs = mt.reverse_sequences(test_seqs)
        else:
            raise ValueError(f"unknown synthetic OOD set {name!r}")
        ood[name] = TokenSet.from_sequences(seqs, pad)
    return TextData(TokenSet.from_sequences(train_seqs, pad, train_y), TokenSet.from_sequences(oe_seqs, pad),
                    TokenSet.from_sequences(test_seqs, pad, test_y), ood)


def _sharpen(chain: mt.MarkovChain, power: float) -> mt.MarkovChain:
    rows = chain.transition ** power
    return mt.MarkovChain(chain.initial, rows / rows.sum(1, keepdims=True))


def build_lm_data(data: dict[str, Any]) -> TextData:
    """The synthetic "language" of spec §8.1 (Table 6 / Table 11 plan), deterministic in
    ``data_seed``: one in-distribution chain, fixed-length sequences; OE = sequences of chains
    whose Dirichlet concentrations span low to high entropy; test OOD = chains mixing the
    in-distribution rows with new ones (another "domain" of the same language), unseen chains, the
    in-distribution chain sharpened to low entropy (rows ∝ P^γ: simpler text the in-distribution
    model finds likely), and uniform tokens."""
    check_text_data(data)
    v, alpha, t = data["vocab_size"], data["concentration"], int(data["seq_len"])
    pad = v  # never used: all sequences have the same length
    chain = mt.random_chain(v, alpha, _rng(data, 0))
    train = mt.sample_sequences(chain, data["n_train"], t, _rng(data, 1))
    test = mt.sample_sequences(chain, data["n_test"], t, _rng(data, 2))
    rng = _rng(data, 3)
    lo, hi = data["oe_concentration_range"]
    oe_chains = [mt.random_chain(v, float(a), rng) for a in np.geomspace(lo, hi, data["oe_chains"])]
    oe = _split_classes(oe_chains, data["n_oe"], t, rng)[0]
    pool = data["n_draws"] * (data["n_test"] // data["ood_ratio"])
    ood: dict[str, TokenSet] = {}
    for j, name in enumerate(data["test_ood"]):
        rng = _rng(data, 100 + j)
        if name == "shifted_chains":
            w = data["shift_weight"]
            chains = [mt.MarkovChain(chain.initial, (1 - w) * chain.transition + w * mt.random_chain(v, alpha, rng)
                                     .transition) for _ in range(data["ood_chains"])]
        elif name == "unseen_chains":
            chains = [mt.random_chain(v, alpha, rng) for _ in range(data["ood_chains"])]
        elif name == "sharpened_chains":
            chains = [_sharpen(chain, data["sharpen_power"])]
        elif name != "uniform_tokens":
            raise ValueError(f"unknown synthetic OOD set {name!r}")
        seqs = (mt.uniform_sequences(v, pool, t, rng) if name == "uniform_tokens"
                else _split_classes(chains, pool, t, rng)[0])
        ood[name] = TokenSet.from_sequences(seqs, pad)
    return TextData(TokenSet.from_sequences(train, pad), TokenSet.from_sequences(oe, pad),
                    TokenSet.from_sequences(test, pad), ood)


# ---------------------------------------------------------------------------------------------
# losses and scores


def classifier_oe_loss(model: nn.Module, tokens: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor,
                       oe: tuple[torch.Tensor, torch.Tensor] | None, oe_weight: float) -> torch.Tensor:
    """Cross-entropy on the in-distribution batch plus λ·H(U; p) on the OE batch (§4.3), the two
    batches in separate forward passes as in the official NLP code."""
    logits = model(tokens, lengths)
    logits_oe = model(*oe) if oe is not None else None
    return outlier_exposure_loss(logits, labels, logits_oe, oe_weight)


def token_nll(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Per-token negative log-likelihood in nats, (N, T): -log p(x_t | x_{<t}), x_1 given BOS."""
    logits = model(model.with_bos(tokens))
    return nn.functional.cross_entropy(logits.transpose(1, 2), tokens, reduction="none")


def bits_per_token(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The LM's OOD score (§4.4): nll(x) / sequence length, in bits (BPC / BPW); higher = more anomalous."""
    return token_nll(model, tokens).mean(1) / math.log(2)


def lm_oe_loss(model: nn.Module, tokens: torch.Tensor, oe_tokens: torch.Tensor | None,
               oe_weight: float) -> torch.Tensor:
    """Mean token NLL on D_in plus ``oe_weight`` × the cross-entropy from the uniform distribution
    over the vocabulary to the model's next-token distribution at every OE position (official
    code: ``loss + 0.5 * -log_softmax(logits_oe).mean(-1).mean()``)."""
    loss = token_nll(model, tokens).mean()
    if oe_tokens is not None and oe_weight != 0:
        logits = model(model.with_bos(oe_tokens))
        loss = loss + oe_weight * uniform_cross_entropy(logits.reshape(-1, logits.shape[-1])).mean()
    return loss


# ---------------------------------------------------------------------------------------------
# training




def train_text_model(model: nn.Module, step_loss: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
                     n_in: int, n_oe: int, spec: TextTrainSpec, *, seed: int, checkpoint_path: Path | None = None,
                     checkpoint_key: str = "", desc: str = "train") -> list[float]:
    """Train ``model`` in place; ``step_loss(idx_in, idx_oe)`` computes a batch's loss from indices.

    Adam at ``spec.lr`` with ``CosineAnnealingLR(T_max=epochs)`` stepped per epoch (official NLP
    code); a seeded permutation per epoch for the in-distribution data and, when
    ``spec.oe_batch_size`` > 0, for the OE data (cycled if shorter). With ``checkpoint_path`` a
    checkpoint is written atomically after every epoch and an interrupted run resumes from it
    (:func:`adlib.train.read_checkpoint`). Returns the per-epoch mean losses.
    """
    from tqdm.auto import tqdm

    if spec.oe_batch_size > 0 and n_oe == 0:
        raise ValueError("spec.oe_batch_size > 0 but the OE set is empty")
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, spec.epochs))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    losses: list[float] = []
    start = 0
    state = None if checkpoint_path is None else read_checkpoint(checkpoint_path, checkpoint_key, spec)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        gen.set_state(state["generator"])
        losses, start = list(state["losses"]), int(state["epoch"])
    steps = math.ceil(n_in / spec.batch_size)
    model.train()
    for epoch in tqdm(range(start, spec.epochs), desc=desc, disable=not progress_enabled(), leave=False,
                      initial=start, total=spec.epochs):
        order = torch.randperm(n_in, generator=gen)
        oe_order = None
        if spec.oe_batch_size > 0:
            need = steps * spec.oe_batch_size
            oe_order = torch.cat([torch.randperm(n_oe, generator=gen) for _ in range(math.ceil(need / n_oe))])
        total = 0.0
        for step in range(steps):
            idx = order[step * spec.batch_size:(step + 1) * spec.batch_size]
            oe_idx = None if oe_order is None else oe_order[step * spec.oe_batch_size:(step + 1) * spec.oe_batch_size]
            loss = step_loss(idx, oe_idx)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{desc}: non-finite loss at epoch {epoch + 1}, step {step + 1}; "
                                         f"lower the learning rate (lr={spec.lr})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if spec.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), spec.clip)
            optimizer.step()
            total += loss.item() * len(idx)
        scheduler.step()
        losses.append(total / n_in)
        if checkpoint_path is not None:
            _atomic_torch_save({"key": checkpoint_key, "spec": spec.to_dict(), "epoch": epoch + 1,
                                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                                "generator": gen.get_state(), "losses": losses}, Path(checkpoint_path))
    model.eval()
    return losses


def _step_fn(cfg: dict[str, Any], model: nn.Module, data: TextData, spec: TextTrainSpec, device: torch.device):
    def step(idx: torch.Tensor, oe_idx: torch.Tensor | None) -> torch.Tensor:
        if cfg["experiment"] == EXPERIMENT_NLP:
            tokens, lengths = data.train.batch(idx)
            oe = None
            if oe_idx is not None:
                oe_tokens, oe_lengths = data.oe.batch(oe_idx)
                oe = (oe_tokens.to(device), oe_lengths)
            return classifier_oe_loss(model, tokens.to(device), lengths, data.train.labels[idx].to(device), oe,
                                      spec.oe_weight)
        oe_tokens = None if oe_idx is None else data.oe.tokens[oe_idx].to(device)
        return lm_oe_loss(model, data.train.tokens[idx].to(device), oe_tokens, spec.oe_weight)
    return step


def _new_model(cfg: dict[str, Any]) -> nn.Module:
    kwargs = {k: v for k, v in cfg["model"].items() if k != "name"}
    return create_model(cfg["model"]["name"], **kwargs)


def train_model(cfg: dict[str, Any], data: TextData, device: torch.device) -> nn.Module:
    """The run's trained model: the baseline (cached by its own config), or that baseline
    fine-tuned with OE."""
    from filelock import FileLock

    tag = "nlp" if cfg["experiment"] == EXPERIMENT_NLP else "lm"
    spec = TextTrainSpec(**cfg["pretrain"])
    base_cfg = {k: cfg[k] for k in ("experiment", "data", "model", "pretrain", "seed", "device", "threads")}
    key = config_hash(base_cfg)
    path = checkpoint_dir(PAPER) / f"{tag}-baseline-{key}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg["seed"], cfg["threads"])
    model = _new_model(cfg).to(device)
    with FileLock(str(path) + ".lock"):
        state = read_checkpoint(path, key, spec)
        if state is not None and state["epoch"] == spec.epochs:
            model.load_state_dict(state["model"])
            model.eval()
        else:
            train_text_model(model, _step_fn(cfg, model, data, spec, device), len(data.train), len(data.oe), spec,
                             seed=cfg["seed"], checkpoint_path=path, checkpoint_key=key,
                             desc=f"{tag} baseline seed {cfg['seed']}")
    if cfg["method"] == "baseline":
        return model
    spec = TextTrainSpec(**cfg["finetune"])
    model = copy.deepcopy(model)
    seed_everything(cfg["seed"] + 1, cfg["threads"])
    key = config_hash(cfg)
    train_text_model(model, _step_fn(cfg, model, data, spec, device), len(data.train), len(data.oe), spec,
                     seed=cfg["seed"] + 1, checkpoint_path=checkpoint_dir(PAPER) / f"{tag}-oe_tune-{key}.pt",
                     checkpoint_key=key, desc=f"{tag} OE fine-tune seed {cfg['seed']}")
    return model


# ---------------------------------------------------------------------------------------------
# evaluation and runners


@torch.inference_mode()
def classifier_logits(model: nn.Module, tokens: TokenSet, device: torch.device, batch_size: int = 1000) -> torch.Tensor:
    """Logits over a token set (eval mode, packed batches), float32 on the CPU."""
    model.eval()
    out = []
    for i in range(0, len(tokens), batch_size):
        t, lengths = tokens.batch(torch.arange(i, min(i + batch_size, len(tokens))))
        out.append(model(t.to(device), lengths).float().cpu())
    return torch.cat(out)


@torch.inference_mode()
def lm_scores(model: nn.Module, tokens: TokenSet, device: torch.device, batch_size: int = 500) -> torch.Tensor:
    """Bits per token of every sequence (eval mode), float32 on the CPU."""
    model.eval()
    return torch.cat([bits_per_token(model, tokens.tokens[i:i + batch_size].to(device)).float().cpu()
                      for i in range(0, len(tokens), batch_size)])


def run_classifier(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The sweep runner of Tables 2/8: train (or load) the classifier, then MSP with FPR90."""
    from adlib.papers.hendrycks2019.experiments import protocol_metrics
    from adlib.train import accuracy

    device = resolve_device(cfg["device"])
    check_text_data(cfg["data"])
    data = build_classifier_data(cfg["data"])
    model = train_model(cfg, data, device)
    in_logits = classifier_logits(model, data.test, device)
    ood_logits = {name: classifier_logits(model, s, device) for name, s in data.ood.items()}
    return protocol_metrics({"msp": get_detector("msp").score_outputs}, in_logits, ood_logits,
                            accuracy(in_logits, data.test.labels), cfg, tpr=FPR_LEVEL)


def run_language_model(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The sweep runner of Tables 6/11: train (or load) the LM, score by bits per token, FPR90."""
    from adlib.papers.hendrycks2019.experiments import protocol_metrics

    device = resolve_device(cfg["device"])
    check_text_data(cfg["data"])
    data = build_lm_data(cfg["data"])
    model = train_model(cfg, data, device)
    in_scores = lm_scores(model, data.test, device)
    ood_scores = {name: lm_scores(model, s, device) for name, s in data.ood.items()}
    metrics, arrays = protocol_metrics({"bpt": lambda s: s}, in_scores, ood_scores, float("nan"), cfg,
                                       tpr=FPR_LEVEL)
    metrics["test_bits_per_token"] = float(in_scores.mean())
    del metrics["test_accuracy"]
    return metrics, arrays
