"""Small models with the recorder's traps, named on the command line as
``tests/unit/cli_models.py:<function>`` by tests/unit/test_cli_record.py."""

import torch
from torch import nn
from torch.nn import functional as F


def _seeded(make):
    with torch.random.fork_rng():  # the user's usual global seeding, without touching the caller's stream
        torch.manual_seed(0)
        return make()


def mlp():
    return _seeded(lambda: nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)))


class Pair(nn.Module):
    def forward(self, x):
        return x, 2 * x


class Named(nn.Module):
    def forward(self, x):
        return {"same": x, "negated": -x}


class FirstOf(nn.Module):
    def __init__(self, inner, key):
        super().__init__()
        self.inner, self.key, self.out = inner, key, nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.inner(x)[self.key])


def tuple_output():
    return _seeded(lambda: FirstOf(Pair(), 0))


def dict_output():
    return _seeded(lambda: FirstOf(Named(), "same"))


def data_parallel():
    return nn.DataParallel(mlp())


def conv():
    return _seeded(lambda: nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Flatten(), nn.Linear(48, 2)))


class StickyDropout(nn.Dropout):
    def train(self, mode=True):  # ignores eval()
        return super().train(True)


def sticky_training():
    return _seeded(lambda: nn.Sequential(nn.Linear(4, 3), StickyDropout(0.5)))


class BatchStats(nn.BatchNorm1d):
    def forward(self, x):  # batch statistics whatever the mode: running buffers updated in eval()
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, True, 0.1, 1e-5)


def batch_statistics():
    return _seeded(lambda: nn.Sequential(nn.Linear(4, 3), BatchStats(3)))


class AlwaysDropout(nn.Module):
    def forward(self, x):
        return F.dropout(x, 0.5, training=True)


def random_in_eval():
    return _seeded(lambda: nn.Sequential(nn.Linear(4, 3), AlwaysDropout()))


def not_a_module():
    return 42


class InPlaceAfter(nn.Module):
    """A functional in-place ReLU (no module) overwrites the first Linear's output."""

    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(4, 3), nn.Linear(3, 2)

    def forward(self, x):
        h = self.first(x)
        h.relu_()
        return self.second(h)


def in_place_after():
    return _seeded(InPlaceAfter)
