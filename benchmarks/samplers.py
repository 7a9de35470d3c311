"""Which latent sampler gives better samples: a Gaussian or a Gaussian mixture fitted to
the training latents (Appendix D), scored by a digit classifier.

A logistic regression on mnist5k's training pixels (scikit-learn) classifies 1,000
samples of each sampler and, for reference, the 1,000 held-out test digits. Reported:
the mean probability of the predicted class (how much a sample looks like some digit),
the share predicted with probability above 0.9, the number of classes predicted at least
20 times (variety), and the held-out log-likelihood per latent the mixture search chose by.

    python -m benchmarks.samplers runs/demo > docs/results/samplers.txt
"""

import argparse

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from gon.data import load_data
from gon.evaluate import encode_dataset
from gon.models import load_model
from gon.samplers import GaussianSampler, MixtureSampler


def scores(classifier: LogisticRegression, images: torch.Tensor) -> str:
    probabilities = classifier.predict_proba(images.flatten(1).numpy())
    top = probabilities.max(1)
    counts = np.bincount(probabilities.argmax(1), minlength=10)
    return f"{top.mean():.3f} | {(top > 0.9).mean():.3f} | {(counts >= 20).sum()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run directory of a conv GON trained on mnist5k")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config, _ = load_model(args.run)
    train = load_data("mnist5k", "train", image_size=config.image_size)
    test = load_data("mnist5k", "test", image_size=config.image_size)
    x, y = train.batch(slice(0, len(train))), train.labels.numpy()
    classifier = LogisticRegression(max_iter=1000).fit(x.flatten(1).numpy(), y)
    latents = encode_dataset(model, train)
    gaussian = GaussianSampler.fit(latents)
    mixture, likelihoods = MixtureSampler.fit(latents, seed=args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    print(
        f"{args.run}: {args.n} samples per sampler, classifier trained on {len(train)} mnist5k digits "
        f"(held-out accuracy {classifier.score(test.batch(slice(0, len(test))).flatten(1).numpy(), test.labels):.3f})"
    )
    print(
        "mixture search, held-out log-likelihood per latent by components: "
        + ", ".join(f"{k}: {v:.2f}" for k, v in likelihoods.items())
        + f" -> {len(mixture.weights)} components"
    )
    print("| images | mean top probability | share above 0.9 | classes with >= 20 |")
    print("|---|---|---|---|")
    print(f"| held-out digits | {scores(classifier, test.batch(slice(0, args.n)))} |")
    for name, sampler in (("gaussian", gaussian), ("gmm", mixture)):
        images = model.generate(sampler.sample(args.n, generator=generator))
        print(f"| {name} samples | {scores(classifier, images)} |")


if __name__ == "__main__":
    main()
