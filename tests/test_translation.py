"""Modality conversion (Section 3.5): an inner loss on part of the signal, outer on all of it."""

import torch

from gon.config import ModelConfig, TrainConfig, paper_inner_scale
from gon.decoders import ConvDecoder
from gon.losses import masked_squared_error, squared_error
from gon.models import GON
from gon.models.baselines import Autoencoder, ConvEncoder
from gon.origin import OriginStep
from gon.training import data_for_model, fit


def inpainting_gon(mask):
    decoder = ConvDecoder(16, 1, 32, 8, "elu", "group")
    return GON(
        decoder,
        16,
        OriginStep(inner_scale=paper_inner_scale("conv", 32, 1)),
        inner_loss=masked_squared_error(mask),
        outer_loss=squared_error,
    )


def top_half():
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :16, :] = 1
    return mask


def test_latent_sees_only_the_visible_part(digits32):
    model = inpainting_gon(top_half()).eval()
    other = digits32.clone()
    other[..., 16:, :] = torch.rand_like(other[..., 16:, :])  # scribble over the hidden half
    assert torch.equal(model.encode(digits32), model.encode(other))
    other[..., :16, :] = 0  # changing the visible half changes the latent
    assert not torch.allclose(model.encode(digits32), model.encode(other))


def test_inpainting_gon_learns_the_hidden_half():
    mask = top_half()
    config = ModelConfig(kind="conv")
    train, test = data_for_model("mnist5k", "train", config), data_for_model("mnist5k", "test", config, limit=200)
    x = test.batch(slice(0, 200))
    torch.manual_seed(0)
    model = inpainting_gon(mask)

    def hidden_error():
        completed = model.eval().reconstruct(x)
        return ((completed - x).pow(2) * (1 - mask)).flatten(1).sum(1).mean().item()

    before = hidden_error()
    fit(model, train, TrainConfig(steps=300, batch_size=32), progress=False)
    assert hidden_error() < 0.5 * before


def test_autoencoder_baseline_mirrors_the_decoder(digits32):
    decoder = ConvDecoder(16, 1, 32, 8, "elu", "group")
    encoder = ConvEncoder(16, 1, 32, 8, "elu", "group")
    # mirrored: the same number of weights in the convolutions
    conv_weights = lambda m: sum(p.numel() for n, p in m.named_parameters() if n.endswith("weight") and p.dim() == 4)  # noqa: E731
    assert conv_weights(encoder) == conv_weights(decoder)
    ae = Autoencoder(encoder, decoder, 16)
    assert ae.reconstruct(digits32).shape == digits32.shape
