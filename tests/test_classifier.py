"""GON classifier (Eq. 13): a linear softmax on the gradient-origin latent, on real digits."""

import pytest
import torch

from gon.config import ClassifierOptions, ModelConfig, TrainConfig
from gon.errors import GONError
from gon.evaluate import evaluate
from gon.models import build_model, load_model, save_model
from gon.training import data_for_model, fit


@pytest.mark.parametrize("weight,floor", [(0.0, 0.7), (0.01, 0.7)])
def test_classifier_learns_mnist5k(weight, floor):
    # measured (200 steps, f = 8, seed 0): held-out accuracy 0.875 alone, 0.867 jointly with
    # reconstruction at weight 0.01; chance is 0.1
    config = ModelConfig(kind="conv", hidden_features=8, classifier=ClassifierOptions(10, reconstruction_weight=weight))
    torch.manual_seed(0)
    model = build_model(config)
    test = data_for_model("mnist5k", "test", config)
    before = evaluate(model, test)["accuracy"]
    fit(model, data_for_model("mnist5k", "train", config), TrainConfig(steps=200, batch_size=32), progress=False)
    after = evaluate(model, test)
    assert after["accuracy"] > floor > before + 0.3, (before, after)


def test_classifier_saves_and_needs_labels(tmp_path, digits32):
    config = ModelConfig(kind="conv", hidden_features=4, classifier=ClassifierOptions(classes=10))
    model = build_model(config).eval()
    save_model(tmp_path, model, config)
    loaded, _, _ = load_model(tmp_path)
    assert torch.equal(loaded.classifier(loaded.encode(digits32)), model.classifier(model.encode(digits32)))
    with pytest.raises(GONError, match="labels"):
        model.train().loss(digits32)
    with pytest.raises(GONError, match="classes"):
        ModelConfig(kind="conv", classifier=ClassifierOptions(classes=1))
    with pytest.raises(GONError, match="variational"):
        ModelConfig(kind="variational", classifier=ClassifierOptions(classes=10))
