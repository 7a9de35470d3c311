"""`fit`, the library's loop, trains a GON around a decoder of one's own: its callbacks
(on_log, on_step, on_checkpoint with resume, TensorBoard through on_log) and the
divergence guard, as the README documents them."""

import pytest
import torch
from torch import nn

from gon import GON, GONError, OriginStep, TrainConfig, fit, load_data
from gon.training.state import latest_training_state, save_training_state


class MLPDecoder(nn.Module):
    """A decoder of one's own: latents (B, k) -> 28x28 digits in [0, 1]."""

    def __init__(self, latent_dim=8, width=32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, width), nn.ELU(), nn.Linear(width, 28 * 28), nn.Sigmoid())
        self.broken = False

    def forward(self, z):
        out = self.net(z).view(-1, 1, 28, 28)
        return out * float("inf") if self.broken else out


def model(seed=0):
    torch.manual_seed(seed)
    return GON(MLPDecoder(), 8, step=OriginStep(inner_scale=1 / 64))


@pytest.fixture(scope="module")
def digits():
    return load_data("mnist5k", "train", limit=256)


CONFIG = TrainConfig(steps=24, batch_size=32, log_every=4, lr=1e-3)


def test_on_log_receives_every_record_and_on_step_can_stop(digits):
    logged, seen = [], []
    history = fit(
        model(),
        digits,
        CONFIG,
        progress=False,
        on_log=logged.append,
        on_step=lambda step: seen.append(step) or step == 10,
    )
    assert seen == list(range(1, 11))
    assert logged == history and [r["step"] for r in history] == [4, 8]  # steps 9-10 stop before their log line
    assert all(r["loss"] > 0 for r in history)


def test_checkpoints_resume_to_the_weights_of_an_uninterrupted_run(digits, tmp_path):
    whole = model()
    fit(whole, digits, CONFIG, progress=False)
    first = model()
    config = TrainConfig(steps=24, batch_size=32, log_every=4, lr=1e-3, checkpoint_every=8)

    def stop_at_12(step):
        return step == 12

    fit(
        first,
        digits,
        config,
        progress=False,
        on_step=stop_at_12,
        on_checkpoint=lambda state: save_training_state(tmp_path, first, state, keep=2),
    )
    resumed = model(seed=1)  # other weights: the checkpoint brings back step 8's
    state, path = latest_training_state(tmp_path, resumed, len(digits), 24)
    assert path.name == "step-00000008" and state.step == 8
    fit(resumed, digits, config, progress=False, resume=state)
    assert all(torch.equal(a, b) for a, b in zip(resumed.state_dict().values(), whole.state_dict().values()))


def test_a_diverging_loss_stops_training_in_one_line(digits):
    gon = model()

    def break_at_3(step):
        gon.decoder.broken = step == 3

    with pytest.raises(GONError, match="training diverged: the loss is (nan|inf) at step 4"):
        fit(gon, digits, CONFIG, progress=False, on_step=break_at_3)


def test_tensorboard_logs_through_on_log(digits, tmp_path):
    pytest.importorskip("tensorboard")
    from gon.tensorboard import TensorBoardLog

    board = TensorBoardLog(tmp_path / "tb")
    fit(model(), digits, TrainConfig(steps=8, batch_size=32, log_every=4), progress=False, on_log=board.log)
    board.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


# what a GON around a decoder of one's own checks on the first batch, called or through fit


def test_a_decoder_output_of_another_shape_than_the_data_is_one_line(digits):
    x = digits.batch(slice(0, 16))
    flat = GON(nn.Sequential(MLPDecoder(), nn.Flatten(1, 2)), 8)  # (B, 28, 28) against (B, 1, 28, 28)
    with pytest.raises(GONError, match=r"output has shape \(16, 28, 28\) and the data \(16, 1, 28, 28\)"):
        flat.encode(x)  # silently broadcast to a (16, 16, 28, 28) error before
    larger = load_data("mnist5k", "train", image_size=32, limit=64)
    with pytest.raises(GONError, match=r"output has shape \(32, 1, 28, 28\) and the data \(32, 1, 32, 32\)"):
        fit(model(), larger, CONFIG, progress=False)  # a raw torch RuntimeError before


def test_data_outside_the_declared_range_is_refused_and_another_range_can_be_declared(digits, tmp_path):
    x = digits.batch(slice(0, 16))
    with pytest.raises(GONError, match=r"values must lie in \[0, 1\], got 0 to 255: .*value_range=\(low, high\)"):
        model().encode(x * 255)
    declared = GON(MLPDecoder(), 8, step=OriginStep(inner_scale=1 / 64), value_range=(0, 255))
    assert declared.encode(x * 255).shape == (16, 8)
    declared.save_pretrained(tmp_path / "mine")
    assert GON.from_pretrained(tmp_path / "mine", decoder=MLPDecoder()).value_range == (0.0, 255.0)
    anything = GON(MLPDecoder(), 8, step=OriginStep(inner_scale=1 / 64), value_range=None)
    assert torch.isfinite(anything.encode(x * 2 - 1)).all()
    with pytest.raises(GONError, match="value_range must be"):
        GON(MLPDecoder(), 8, value_range=(1, 0))


def test_a_labelled_batch_is_refused_with_the_fix_and_labelled_data_train(digits):
    batch = next(iter(torch.utils.data.DataLoader(digits, batch_size=16)))
    with pytest.raises(
        GONError,
        match=r"got a list of 2 \(a DataLoader's \(images, labels\) batch\?\): pass the "
        r"images, `images, labels = batch; model\(images\)`",
    ):
        model()(batch)
    images, labels = batch
    assert labels.shape == (16,) and torch.isfinite(model()(images))
    assert digits.labels is not None and fit(model(), digits, TrainConfig(steps=2, batch_size=32), progress=False)
    with pytest.raises(GONError, match="fit takes an ImageData"):
        fit(model(), torch.utils.data.DataLoader(digits, batch_size=32), CONFIG, progress=False)


def test_a_gon_of_ones_own_saved_before_backtracking_loads_with_plain_steps(tmp_path):
    import json

    GON(MLPDecoder(), 8, step=OriginStep(steps=3)).save_pretrained(tmp_path / "mine")
    assert GON.from_pretrained(tmp_path / "mine", decoder=MLPDecoder()).step.descent == "backtracking"
    config = tmp_path / "mine" / "config.json"
    saved = json.loads(config.read_text())
    step = next(v for k, v in _dataclass_fields(saved) if k == "step")
    del step["descent"]  # as written before several steps backtracked
    config.write_text(json.dumps(saved))
    assert GON.from_pretrained(tmp_path / "mine", decoder=MLPDecoder()).step.descent == "plain"


def _dataclass_fields(saved):
    """(name, fields) of each dataclass a saved GON of one's own recorded, wherever it sits."""
    stack = [saved]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "dataclasses" in node and isinstance(node["dataclasses"], dict):
                yield from node["dataclasses"].items()
            stack.extend(v for v in node.values() if isinstance(v, dict))
