"""A network the project does not define, for the tests of the `layerinfo` command and the
workflow's `external` target: a small CNN (an in-place ReLU used twice, max pooling) and its
training on scikit-learn's bundled digits with a checkpoint per epoch. The workflow test copies
this file into a working directory, as a user's own `nets.py`."""

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.act = nn.ReLU(inplace=True)  # in place, and called twice
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.act(self.conv1(x))
        x = self.pool(self.act(self.conv2(x)))
        return self.fc(x.flatten(1))


def build():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return DigitsNet()


def digits_arrays():
    """scikit-learn's bundled digits as (N, 1, 8, 8) float32 in [0, 1] and int64 labels, read from
    the file load_digits reads (without importing sklearn: its first import takes seconds)."""
    sklearn_dir = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    digits = np.loadtxt(Path(sklearn_dir) / "datasets" / "data" / "digits.csv.gz", delimiter=",")
    return (digits[:, :64] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32), digits[:, 64].astype(np.int64)


def train_checkpoints(directory: Path, net: nn.Module, epochs: int = 3, n_train: int = 500) -> None:
    """SGD with momentum 0.9 (by hand: torch.optim's first import takes seconds) on the first
    ``n_train`` digits, batches of 50; ``directory/ckpt/epoch_{k}.pt`` after each epoch."""
    x, y = digits_arrays()
    params = list(net.parameters())
    velocity = [torch.zeros_like(p) for p in params]
    gen = torch.Generator().manual_seed(0)
    xt, yt = torch.from_numpy(x[:n_train]), torch.from_numpy(y[:n_train])
    (directory / "ckpt").mkdir()
    for epoch in range(1, epochs + 1):
        for batch in torch.randperm(n_train, generator=gen).split(50):
            net.zero_grad()
            F.cross_entropy(net(xt[batch]), yt[batch]).backward()
            with torch.no_grad():
                for p, v in zip(params, velocity):
                    p.sub_(0.1 * v.mul_(0.9).add_(p.grad))
        torch.save(net.state_dict(), directory / "ckpt" / f"epoch_{epoch}.pt")
