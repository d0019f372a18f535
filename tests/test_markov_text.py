"""The synthetic Markov-chain token generator (adlib.data.markov_text)."""

import numpy as np
import pytest

from adlib.data import markov_text as mt


def test_chain_rows_are_probability_vectors_and_deterministic():
    a = mt.random_chain(30, 0.1, np.random.default_rng(5))
    b = mt.random_chain(30, 0.1, np.random.default_rng(5))
    assert a.transition.shape == (30, 30)
    assert np.all(a.transition >= 0) and np.allclose(a.transition.sum(1), 1)
    assert np.allclose(a.initial.sum(), 1)
    assert np.array_equal(a.transition, b.transition) and np.array_equal(a.initial, b.initial)
    assert not np.array_equal(a.transition, mt.random_chain(30, 0.1, np.random.default_rng(6)).transition)


def test_tiny_concentration_still_gives_stochastic_rows():
    chain = mt.random_chain(50, 1e-4, np.random.default_rng(0))
    assert np.isfinite(chain.transition).all() and np.allclose(chain.transition.sum(1), 1)


def test_entropy_rate_orders_low_and_high_concentration():
    low = mt.random_chain(40, 0.01, np.random.default_rng(1)).entropy_rate()
    high = mt.random_chain(40, 10.0, np.random.default_rng(1)).entropy_rate()
    assert 0 <= low < high <= np.log2(40)


def test_sequences_are_deterministic_in_range_and_follow_the_chain():
    chain = mt.random_chain(20, 0.05, np.random.default_rng(0))
    s1 = mt.sample_sequences(chain, 200, (5, 12), np.random.default_rng(3))
    s2 = mt.sample_sequences(chain, 200, (5, 12), np.random.default_rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(s1, s2))
    assert {len(s) for s in s1} <= set(range(5, 13))
    allowed = chain.transition > 0
    for s in s1:
        assert s.min() >= 0 and s.max() < 20
        assert allowed[s[:-1], s[1:]].all()  # no transition of probability zero


def test_empirical_transitions_match_the_chain():
    chain = mt.random_chain(5, 1.0, np.random.default_rng(2))
    seqs = mt.sample_sequences(chain, 400, 100, np.random.default_rng(4))
    counts = np.zeros((5, 5))
    for s in seqs:
        np.add.at(counts, (s[:-1], s[1:]), 1)
    assert np.abs(counts / counts.sum(1, keepdims=True) - chain.transition).max() < 0.03


def test_pad_left_and_right_and_helpers():
    seqs = [np.array([1, 2, 3]), np.array([4])]
    right, lens = mt.pad_sequences(seqs, 9, side="right")
    left, _ = mt.pad_sequences(seqs, 9, side="left")
    assert lens.tolist() == [3, 1]
    assert right.tolist() == [[1, 2, 3], [4, 9, 9]] and left.tolist() == [[1, 2, 3], [9, 9, 4]]
    assert mt.reverse_sequences(seqs)[0].tolist() == [3, 2, 1]
    shuffled = mt.shuffle_tokens(seqs, np.random.default_rng(0))
    assert sorted(shuffled[0].tolist()) == [1, 2, 3]
    u = mt.uniform_sequences(7, 10, (2, 4), np.random.default_rng(0))
    assert all(2 <= len(s) <= 4 and s.max() < 7 for s in u)
    with pytest.raises(ValueError):
        mt.pad_sequences(seqs, 0, side="middle")
    with pytest.raises(ValueError):
        mt.MarkovChain(np.ones(3) / 3, np.ones((3, 3)))  # rows sum to 3
