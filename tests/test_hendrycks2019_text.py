"""hendrycks2019 text experiments: GRU models, OE losses on sequences, configs and a smoke run."""

import math

import numpy as np
import pytest
import torch

from adlib.models import create_model
from adlib.papers.hendrycks2019 import text


def test_gru_classifier_shapes_and_packing_ignores_padding():
    torch.manual_seed(0)
    model = create_model("gru_classifier", vocab_size=11, num_classes=4, padding_idx=10).eval()
    seq = torch.tensor([[3, 1, 4, 1, 5]])
    padded = torch.tensor([[3, 1, 4, 1, 5, 10, 10, 10]])
    a = model(seq, torch.tensor([5]))
    b = model(padded, torch.tensor([5]))
    assert a.shape == (1, 4)
    assert torch.allclose(a, b, atol=1e-6)
    # without lengths the GRU runs over the pads: the answer differs (the official left-padded path)
    assert not torch.allclose(model(padded), a, atol=1e-4)
    assert model.features(padded, torch.tensor([5])).shape == (1, 128)


def test_gru_lm_shapes_and_bits_per_token():
    torch.manual_seed(0)
    model = create_model("gru_lm", vocab_size=7).eval()
    tokens = torch.randint(0, 7, (3, 9))
    inputs = model.with_bos(tokens)
    assert inputs[:, 0].eq(7).all() and torch.equal(inputs[:, 1:], tokens[:, :-1])
    assert model(inputs).shape == (3, 9, 7)
    bpt = text.bits_per_token(model, tokens)
    assert bpt.shape == (3,) and torch.all(bpt > 0)
    with torch.no_grad():  # uniform output layer: exactly log2(V) bits per token
        model.fc.weight.zero_()
        model.fc.bias.zero_()
    assert torch.allclose(text.bits_per_token(model, tokens), torch.full((3,), math.log2(7)), atol=1e-5)


def test_oe_losses_on_sequences():
    torch.manual_seed(0)
    clf = create_model("gru_classifier", vocab_size=11, num_classes=3, padding_idx=10)
    x, lengths, y = torch.randint(0, 10, (4, 6)), torch.tensor([6, 5, 3, 2]), torch.tensor([0, 1, 2, 0])
    base = text.classifier_oe_loss(clf, x, lengths, y, None, 1.0)
    with_oe = text.classifier_oe_loss(clf, x, lengths, y, (x, lengths), 1.0)
    # H(U; p) >= log k, so OE with λ = 1 adds at least log 3
    assert with_oe.item() >= base.item() + math.log(3) - 1e-5
    lm = create_model("gru_lm", vocab_size=5)
    t = torch.randint(0, 5, (2, 8))
    assert text.lm_oe_loss(lm, t, t, 0.5).item() >= text.lm_oe_loss(lm, t, None, 0.5).item() + 0.5 * math.log(5) - 1e-5


@pytest.mark.parametrize("make", [text.classifier_config, text.lm_config])
def test_configs_are_valid_and_paper_scale_names_missing_datasets(make):
    smoke = make("smoke", "oe_tune", 0)
    assert smoke["finetune"]["oe_batch_size"] > 0 and "finetune" not in make("cpu", "baseline", 1)
    assert make("cpu", "baseline", 0)["data"]["n_draws"] == 10
    with pytest.raises(ValueError, match="valid methods"):
        make("cpu", "oe_scratch", 0)
    paper = make("paper", "oe_tune", 0)
    assert paper["data"]["oe_source"] == "wikitext2"
    with pytest.raises(ValueError, match="no manifest.*wikitext2"):
        text.check_text_data(paper["data"])
    task = "classifier" if make is text.classifier_config else "lm"
    with pytest.raises(ValueError, match="wikitext2"):
        text.validate_text_choice("paper", None, task=task)
    with pytest.raises(ValueError, match="synthetic"):
        text.validate_text_choice("cpu", "sst", task=task)


def test_paper_scale_nlp_config_follows_the_official_recipe():
    cfg = text.classifier_config("paper", "oe_tune", 0, in_dataset="trec")
    assert cfg["model"]["num_classes"] == 50 and cfg["model"]["padding_idx"] == 1
    assert cfg["finetune"] == {"epochs": 2, "batch_size": 64, "lr": 0.01, "oe_batch_size": 64, "oe_weight": 1.0,
                               "clip": 0.0}


def test_synthetic_data_is_deterministic():
    data = text.classifier_config("smoke", "baseline", 0)["data"]
    a, b = text.build_classifier_data(data), text.build_classifier_data(data)
    assert torch.equal(a.train.tokens, b.train.tokens) and torch.equal(a.oe.tokens, b.oe.tokens)
    assert all(torch.equal(a.ood[k].tokens, b.ood[k].tokens) for k in a.ood)
    assert sorted(a.train.labels.unique().tolist()) == list(range(data["n_classes"]))
    assert len(a.ood["unseen_chains"]) == data["n_draws"] * data["n_test"] // data["ood_ratio"]


@pytest.mark.parametrize("make,run", [(text.classifier_config, text.run_classifier),
                                      (text.lm_config, text.run_language_model)])
def test_smoke_runs_end_to_end(make, run, tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    cfg = make("smoke", "oe_tune", 0)
    metrics, arrays = run(cfg)
    det = next(iter(metrics["ood_mean"]))
    for key in ("FPR90", "AUROC", "AUPR"):
        assert 0.0 <= metrics["ood_mean"][det][key] <= 1.0
    assert set(metrics["ood"][det]) == set(cfg["data"]["test_ood"])
    assert all(np.isfinite(v).all() for v in arrays.values())
    # the baseline checkpoint was cached, and a second run gives the same numbers
    again, _ = run(cfg)
    assert again["ood_mean"] == metrics["ood_mean"]
