"""A data source that is no part of the library, registered on import: ``toy[:N]``, the
first N (default 64) mnist5k digits of a split, each mirrored left to right. Importing this
module is all it takes for `load_data` and the command line's `main` to read it."""

import torch

from gon.data import DataRequest, DataSource, ImageData, load_data, register_source
from gon.errors import GONError


def load_toy(request: DataRequest) -> ImageData:
    count = request.argument or "64"
    if not count.isdigit() or int(count) < 1:
        raise GONError(f"{request.spec}: toy:N takes a positive count, got {count!r}")
    digits = load_data(
        "mnist5k",
        request.split,
        request.image_size,
        request.channels,
        request.fit,
        min(int(count), request.limit or int(count)),
    )
    return ImageData(torch.flip(digits.images, dims=(3,)), digits.labels, request.name)


TOY = register_source(DataSource("toy", "image", load_toy, "toy[:N] (the first N mnist5k digits, mirrored)"))
