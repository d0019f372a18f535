"""rafiee2021 (AD-CGAN) training: per-epoch losses, determinism, bit-identical resumption from
the epoch checkpoints, and the divergence guard (a NaN loss never overwrites the last good
checkpoint)."""

import math

import pytest
import torch

from adlib.models.adcgan import ADCGAN
from adlib.papers.rafiee2021 import training
from adlib.papers.rafiee2021.training import (ALL_VS_ONE, ONE_VS_ALL, ADCGANTrainSpec, load_adcgan_weights,
                                              train_adcgan)
from adlib.train import CheckpointWarning, read_checkpoint

torch.set_num_threads(1)

# 1 warm-up + 2 GAN epochs, 2 steps of 32 per epoch.
SPEC = ADCGANTrainSpec(epochs=2, warmup_epochs=1, batch_size=32)


def _images(n=64, seed=0):
    return torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _model(seed=0):
    torch.manual_seed(seed)
    return ADCGAN(28, width=0.25)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_spec_defaults_follow_the_paper():
    assert (ONE_VS_ALL.warmup_epochs, ONE_VS_ALL.epochs, ONE_VS_ALL.total_epochs) == (5, 15, 20)
    assert (ALL_VS_ONE.warmup_epochs, ALL_VS_ONE.epochs) == (15, 35)
    s = ADCGANTrainSpec()
    assert (s.batch_size, s.lr_critic, s.lr_generator, s.lr_encoder, s.alpha, s.beta, s.n_critic) == \
        (32, 3e-4, 3e-4, 2e-4, 0.3, 0.3, 2)
    assert s.to_dict()["betas"] == [0.5, 0.999] and s.optimizer == "adam"
    code = s.authors_code()
    assert code.optimizer == "adamw" and code.weight_decay_critic == 0.01 and code.weight_decay_encoder == 0.05
    with pytest.raises(ValueError, match="dz_mode"):
        ADCGANTrainSpec(dz_mode="nope")


def test_losses_are_finite_and_recorded_per_epoch(tmp_path):
    model = _model()
    hist = train_adcgan(model, _images(), SPEC, seed=0, checkpoint_path=tmp_path / "c.pt", progress=False)
    assert hist.phases == ["warmup", "gan", "gan"] and len(hist.losses) == 3
    assert set(hist.losses[0]) == {"autoencoder"}
    assert set(hist.losses[1]) == set(hist.losses[2]) == {"critic", "generator", "autoencoder", "latent_disc"}
    assert all(math.isfinite(v) for d in hist.losses for v in d.values())
    assert not model.training
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert state["epoch"] == 3 and state["losses"] == hist.losses
    assert set(state["optimizers"]) == {"critic", "generator", "encoder", "latent_disc"}
    enc = state["optimizers"]["encoder"]["param_groups"][0]
    assert enc["lr"] == 2e-4 and tuple(enc["betas"]) == (0.5, 0.999)
    assert state["optimizers"]["critic"]["param_groups"][0]["lr"] == 3e-4
    fresh = _model(seed=5)
    assert load_adcgan_weights(fresh, tmp_path / "c.pt", "", SPEC) and _same_weights(fresh, model)


def test_official_dz_mode_trains_and_authors_optimisers():
    spec = ADCGANTrainSpec(epochs=1, warmup_epochs=0, dz_mode="official", infonce_negatives="others").authors_code()
    hist = train_adcgan(_model(), _images(), spec, seed=0, progress=False)
    assert set(hist.losses[0]) == {"critic", "generator", "autoencoder"}
    assert all(math.isfinite(v) for v in hist.losses[0].values())


def test_same_seed_same_weights_other_seed_differs():
    a, b, c = _model(), _model(), _model()
    ha = train_adcgan(a, _images(), SPEC, seed=3, progress=False)
    hb = train_adcgan(b, _images(), SPEC, seed=3, progress=False)
    train_adcgan(c, _images(), SPEC, seed=4, progress=False)
    assert _same_weights(a, b) and ha.losses == hb.losses
    assert not _same_weights(a, c)


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    full = _model()
    h_full = train_adcgan(full, _images(), SPEC, seed=1, checkpoint_path=tmp_path / "full.pt", checkpoint_key="k",
                          progress=False)
    part = _model()
    h1 = train_adcgan(part, _images(), SPEC, seed=1, checkpoint_path=tmp_path / "part.pt", checkpoint_key="k",
                      progress=False, stop_after_epoch=2)
    assert len(h1.losses) == 2 and torch.load(tmp_path / "part.pt", weights_only=True)["epoch"] == 2
    resumed = _model(seed=9)  # other initial weights: everything must come from the checkpoint
    h2 = train_adcgan(resumed, _images(), SPEC, seed=1, checkpoint_path=tmp_path / "part.pt", checkpoint_key="k",
                      progress=False)
    assert h2.resumed_from_epoch == 2 and h2.losses == h_full.losses
    assert _same_weights(resumed, full)
    # a finished run resumes to nothing; another key is not used (warned) and trains from scratch
    again = _model(seed=9)
    h3 = train_adcgan(again, _images(), SPEC, seed=1, checkpoint_path=tmp_path / "full.pt", checkpoint_key="k",
                      progress=False)
    assert h3.resumed_from_epoch == 3 and _same_weights(again, full)
    with pytest.warns(CheckpointWarning, match="another run"):
        assert read_checkpoint(tmp_path / "full.pt", "other", SPEC) is None


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    train_adcgan(_model(), _images(), SPEC, seed=0, checkpoint_path=path, progress=False, stop_after_epoch=1)
    good = path.read_bytes()
    real = training.generator_objective
    calls = {"n": 0}

    def nan_on_second_call(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 2 else loss

    monkeypatch.setattr(training, "generator_objective", nan_on_second_call)
    with pytest.raises(FloatingPointError) as err:
        train_adcgan(_model(), _images(), SPEC, seed=0, checkpoint_path=path, progress=False)
    msg = str(err.value)
    assert "epoch 2 of 3" in msg and "step 2 of 2" in msg and "generator loss" in msg
    assert "last good checkpoint (epoch 1)" in msg and str(path) in msg
    assert path.read_bytes() == good
    state = read_checkpoint(path, "", SPEC)
    assert state is not None and state["epoch"] == 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_divergence_in_the_first_epoch_says_there_is_no_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "autoencoder_objective",
                        lambda *a, **k: torch.tensor(float("inf"), requires_grad=True))
    with pytest.raises(FloatingPointError, match=r"autoencoder loss diverged \(inf\) at epoch 1 .*no epoch had "
                                                 r"finished"):
        train_adcgan(_model(), _images(), SPEC, seed=0, checkpoint_path=tmp_path / "c.pt", progress=False)
    assert not (tmp_path / "c.pt").exists()


def test_too_few_images_for_a_batch():
    with pytest.raises(ValueError, match="no complete batch"):
        train_adcgan(_model(), _images(16), SPEC, seed=0, progress=False)
    with pytest.raises(TypeError, match="uint8"):
        train_adcgan(_model(), _images().float(), SPEC, seed=0, progress=False)
