"""The training loop: determinism, resumption, OE batches, errors, batched augmentation."""

import pytest
import torch

from adlib.models import create_model
from adlib.train import (CheckpointWarning, ImagePipeline, TrainSpec, load_weights, resolve_device,
                         train_classifier)


def _data(n=240, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    oe = torch.randint(0, 256, (n // 2, 28, 28), dtype=torch.uint8, generator=g)
    return x, y, oe


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values() if p.dtype.is_floating_point])


def _train(spec, seed=0, **kw):
    x, y, oe = _data()
    torch.manual_seed(seed)
    model = create_model("mnist_convnet", num_classes=3)
    hist = train_classifier(model, x, y, spec, seed=seed, oe_images=oe, progress=False, **kw)
    return model, hist


def test_same_seed_gives_identical_weights_and_other_seed_differs():
    spec = TrainSpec(epochs=2, batch_size=32, oe_batch_size=16)
    a, ha = _train(spec, seed=3)
    b, hb = _train(spec, seed=3)
    c, _ = _train(spec, seed=4)
    assert torch.equal(_weights(a), _weights(b))
    assert ha.losses == hb.losses
    assert not torch.equal(_weights(a), _weights(c))


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    spec = TrainSpec(epochs=3, batch_size=32, oe_batch_size=16)
    full, full_hist = _train(spec, seed=1)
    ckpt = tmp_path / "run.pt"

    # interrupt while epoch 2's checkpoint is being written (after the temporary file, before
    # the rename): the epoch-1 checkpoint must survive intact and the run resume from it
    class Stop(Exception):
        pass

    x, y, oe = _data()
    torch.manual_seed(1)
    model = create_model("mnist_convnet", num_classes=3)
    original_save = torch.save
    calls = {"n": 0}

    def save_then_stop(obj, path, *a, **k):
        original_save(obj, path, *a, **k)
        calls["n"] += 1
        if calls["n"] == 2:
            raise Stop

    torch.save = save_then_stop
    try:
        with pytest.raises(Stop):
            train_classifier(model, x, y, spec, seed=1, oe_images=oe, progress=False,
                             checkpoint_path=ckpt, checkpoint_key="k")
    finally:
        torch.save = original_save
    assert ckpt.exists() and torch.load(ckpt, weights_only=True)["epoch"] == 1
    torch.manual_seed(999)  # resumption must not depend on the global RNG state at restart
    resumed = create_model("mnist_convnet", num_classes=3)
    hist = train_classifier(resumed, x, y, spec, seed=1, oe_images=oe, progress=False,
                            checkpoint_path=ckpt, checkpoint_key="k")
    assert hist.resumed_from_epoch == 1
    assert torch.equal(_weights(full), _weights(resumed))
    assert hist.losses == full_hist.losses
    fresh = create_model("mnist_convnet", num_classes=3)
    assert load_weights(fresh, ckpt, "k", spec)
    assert torch.equal(_weights(fresh), _weights(full))
    with pytest.warns(CheckpointWarning, match="another run"):
        assert not load_weights(fresh, ckpt, "other-key", spec)


def test_oe_batch_changes_training_and_requires_oe_images():
    plain, _ = _train(TrainSpec(epochs=1, batch_size=32))
    oe, _ = _train(TrainSpec(epochs=1, batch_size=32, oe_batch_size=16))
    assert not torch.equal(_weights(plain), _weights(oe))
    x, y, _ = _data()
    with pytest.raises(ValueError, match="oe_images"):
        train_classifier(create_model("mnist_convnet", num_classes=3), x, y,
                         TrainSpec(epochs=1, oe_batch_size=8), seed=0, progress=False)


def test_non_finite_loss_names_the_step():
    x, y, _ = _data()
    with pytest.raises(FloatingPointError, match="epoch 1, step"):
        train_classifier(create_model("mnist_convnet", num_classes=3), x, y, TrainSpec(epochs=1, lr=1e30),
                         seed=0, progress=False)


def test_pipeline_scales_normalises_and_augments():
    x = torch.full((4, 3, 8, 8), 255, dtype=torch.uint8)
    plain = ImagePipeline()(x)
    assert plain.dtype == torch.float32 and float(plain.max()) == 1.0
    norm = ImagePipeline(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))(x)
    assert torch.allclose(norm, torch.full_like(norm, 2.0))
    aug = ImagePipeline(crop_padding=2, hflip=True)
    out = aug(x, train=True, generator=torch.Generator().manual_seed(0))
    assert out.shape == (4, 3, 8, 8)
    assert (out == 0).any()  # zero padding shows up in shifted crops
    assert torch.equal(aug(x), plain)  # no augmentation at test time
    floats = torch.randn(2, 1, 4, 4)
    assert torch.equal(ImagePipeline(mean=(0.5,), std=(0.5,))(floats), floats)  # already model input


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
