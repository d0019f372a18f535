"""Synthetic token "languages": random first-order Markov chains (hendrycks2019 spec §8.1).

The reduced analogs of the OE paper's text experiments (§4.3 NLP classifiers, Tables 2/8;
§4.4 language models, Tables 6/11) need token sequences whose in-distribution and
out-of-distribution structure is known and that are generated offline. Each "language" is a
first-order Markov chain over a vocabulary of ``V`` tokens ``0 .. V-1``: an initial
distribution π and a row-stochastic transition matrix P whose rows are drawn from a symmetric
Dirichlet(α). Small α gives peaked rows (low entropy, "simple" text); large α approaches the
uniform chain.

Everything is drawn from a ``numpy.random.Generator``, so a seed fixes every chain and every
sequence bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MarkovChain", "random_chain", "sample_sequences", "uniform_sequences", "shuffle_tokens",
           "reverse_sequences", "pad_sequences"]


@dataclass(frozen=True)
class MarkovChain:
    """A first-order Markov chain over tokens ``0 .. V-1``.

    ``initial`` has shape (V,) and ``transition`` shape (V, V), row ``i`` being
    p(x_{t+1} = · | x_t = i). Both are probability vectors (non-negative, summing to one).
    """

    initial: np.ndarray
    transition: np.ndarray

    def __post_init__(self) -> None:
        v = self.initial.shape[0]
        if self.initial.ndim != 1 or self.transition.shape != (v, v):
            raise ValueError(f"initial must be (V,) and transition (V, V); got {self.initial.shape} "
                             f"and {self.transition.shape}")
        for name, arr in (("initial", self.initial), ("transition", self.transition)):
            if np.any(arr < 0) or not np.allclose(arr.sum(-1), 1.0, atol=1e-8):
                raise ValueError(f"{name} must hold probability vectors (non-negative, rows summing to 1)")

    @property
    def vocab_size(self) -> int:
        return int(self.initial.shape[0])

    def entropy_rate(self) -> float:
        """Entropy rate in bits per token, H = -Σ_i μ_i Σ_j P_ij log2 P_ij, with μ the stationary
        distribution (left eigenvector of P for eigenvalue 1; power iteration)."""
        mu = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for _ in range(1000):
            nxt = mu @ self.transition
            if np.abs(nxt - mu).max() < 1e-12:
                break
            mu = nxt
        with np.errstate(divide="ignore", invalid="ignore"):
            row_h = -np.where(self.transition > 0, self.transition * np.log2(self.transition), 0.0).sum(1)
        return float(mu @ row_h)


def random_chain(vocab_size: int, concentration: float, rng: np.random.Generator) -> MarkovChain:
    """A chain with ``initial`` ~ Dirichlet(1) and every transition row ~ Dirichlet(α = concentration).

    Rows with underflowing mass (tiny α) are renormalised; each row is a probability vector.
    """
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
    if concentration <= 0:
        raise ValueError(f"concentration must be > 0, got {concentration}")
    initial = rng.dirichlet(np.ones(vocab_size))
    rows = rng.dirichlet(np.full(vocab_size, float(concentration)), size=vocab_size)
    bad = ~np.isfinite(rows).all(1) | (rows.sum(1) <= 0)
    if bad.any():  # Dirichlet with very small α can underflow to all zeros: put the mass on one token
        rows[bad] = 0.0
        rows[bad, rng.integers(0, vocab_size, int(bad.sum()))] = 1.0
    rows = rows / rows.sum(1, keepdims=True)
    return MarkovChain(initial / initial.sum(), rows)


def _lengths(n: int, length: int | tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    if isinstance(length, int):
        return np.full(n, length, dtype=np.int64)
    lo, hi = length
    if not 1 <= lo <= hi:
        raise ValueError(f"length range must satisfy 1 <= min <= max, got {length}")
    return rng.integers(lo, hi + 1, n).astype(np.int64)


def _categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``probs`` (n, V) by inverse CDF."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(1), probs.shape[1] - 1)


def sample_sequences(chain: MarkovChain, n: int, length: int | tuple[int, int],
                     rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` sequences of the chain (int64 token arrays); ``length`` is fixed or an inclusive
    (min, max) range drawn uniformly per sequence."""
    lens = _lengths(n, length, rng)
    t_max = int(lens.max()) if n else 0
    tokens = np.zeros((n, t_max), dtype=np.int64)
    if n:
        tokens[:, 0] = _categorical(np.broadcast_to(chain.initial, (n, chain.vocab_size)), rng)
        for t in range(1, t_max):
            tokens[:, t] = _categorical(chain.transition[tokens[:, t - 1]], rng)
    return [tokens[i, :lens[i]].copy() for i in range(n)]


def uniform_sequences(vocab_size: int, n: int, length: int | tuple[int, int],
                      rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` sequences of i.i.d. uniform tokens (the maximal-entropy "language")."""
    lens = _lengths(n, length, rng)
    return [rng.integers(0, vocab_size, int(k)).astype(np.int64) for k in lens]


def shuffle_tokens(seqs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Each sequence with its tokens randomly permuted (same unigram counts, no transitions)."""
    return [s[rng.permutation(len(s))] for s in seqs]


def reverse_sequences(seqs: list[np.ndarray]) -> list[np.ndarray]:
    """Each sequence read backwards (same tokens and bigrams, reversed direction)."""
    return [s[::-1].copy() for s in seqs]


def pad_sequences(seqs: list[np.ndarray], pad_value: int, *, side: str = "right",
                  length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences into an (n, T) int64 array padded with ``pad_value``; returns (tokens, lengths).

    ``side="left"`` puts the padding first, as torchtext's ``pad_first=True`` in the official NLP
    code; ``side="right"`` after the tokens (what ``pack_padded_sequence`` expects). ``length``
    (default: the longest sequence) truncates longer sequences, keeping their first tokens.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    lens = np.array([len(s) for s in seqs], dtype=np.int64)
    t = int(length if length is not None else (lens.max() if len(lens) else 0))
    lens = np.minimum(lens, t)
    out = np.full((len(seqs), t), pad_value, dtype=np.int64)
    for i, (s, k) in enumerate(zip(seqs, lens)):
        if k:
            if side == "right":
                out[i, :k] = s[:k]
            else:
                out[i, t - k:] = s[:k]
    return out, lens
