"""The RBM training protocols (authors | hinton) step by step against hand-computed values, the
chunked nearest-image distances, and the memory benchmark of the generation step."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from layerinfo.relevance.rbm import PROTOCOLS, RBM, PCDSchedule, generate, glorot_sigmoid_std, train_dbn, train_rbm
from layerinfo.relevance.study import generation_visible, nearest_rms, schedule_from_config, split_rows

ROOT = Path(__file__).resolve().parents[2]
AUTHORS = PCDSchedule.from_protocol("authors", epochs=200)


def test_authors_initial_weights_for_784_by_500():
    assert glorot_sigmoid_std(784, 500) == pytest.approx(4 * math.sqrt(6 / 1284))
    assert glorot_sigmoid_std(784, 500) == pytest.approx(0.2734, abs=1e-4)
    rbm = RBM(784, 500)
    data = torch.full((3, 784), 0.3, dtype=torch.float64)
    rbm.initialise(data, torch.Generator().manual_seed(0), scheme="glorot_sigmoid")
    assert float(rbm.W.std()) == pytest.approx(0.2734, rel=0.01)  # 392000 draws: 0.1% s.e.
    assert float(rbm.W.mean()) == pytest.approx(0.0, abs=3e-3)
    assert not rbm.b.any() and not rbm.c.any()
    hinton = RBM(784, 500)
    hinton.initialise(data, torch.Generator().manual_seed(0), weight_std=0.01, scheme="hinton")
    assert float(hinton.W.std()) == pytest.approx(0.01, rel=0.01)
    assert torch.allclose(hinton.b, torch.full((784,), math.log(0.3 / 0.7), dtype=torch.float64))
    with pytest.raises(ValueError, match="allowed values: hinton, glorot_sigmoid"):
        rbm.initialise(data, torch.Generator(), scheme="xavier")


def test_authors_learning_rate_decays_over_the_last_tenth():
    # epochs counted from 1 here; the authors' e = t - 1: lr = 0.1 / (e + 1 - 180) for e > 180
    assert [AUTHORS.rate(t) for t in (1, 100, 180, 181)] == [0.1] * 4
    assert AUTHORS.rate(182) == pytest.approx(0.1 / 2)  # e = 181
    assert AUTHORS.rate(200) == pytest.approx(0.1 / 20)  # e = 199, the last epoch
    for t in range(181, 201):
        e = t - 1
        assert AUTHORS.rate(t) == pytest.approx(0.1 / (e + 1 - 180) if e > 180 else 0.1)


def test_authors_momentum_over_the_first_five_epochs_then_zero():
    assert [AUTHORS.momentum(e + 1) for e in range(5)] == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1])
    assert all(AUTHORS.momentum(e + 1) == 0.0 for e in range(5, 200))


def test_hinton_protocol_is_the_earlier_schedule():
    s = PCDSchedule.from_protocol("hinton", epochs=10)
    assert s == PCDSchedule(epochs=10)
    assert [s.rate(t) for t in (1, 5, 6, 10)] == pytest.approx([0.1, 0.1, 0.1 * 5 / 6, 0.05])
    assert s.momentum(1) == 0.5 and s.momentum(10) == 0.0 and s.momentum(4) == pytest.approx(1 / 3)
    assert (s.batch_size, s.n_chains, s.negative_reads, s.gibbs_steps) == (50, None, 1, 1)


def test_protocol_keys_are_overridable_and_checked():
    cfg = schedule_from_config({"protocol": "authors", "epochs": 7, "n_chains": 10, "decay_start": 0.5})
    assert (cfg.epochs, cfg.n_chains, cfg.decay_start, cfg.init) == (7, 10, 0.5, "glorot_sigmoid")
    assert schedule_from_config({"epochs": 3}).init == "hinton"  # no protocol key: hinton
    assert set(PROTOCOLS["authors"]) == set(PROTOCOLS["hinton"])
    with pytest.raises(ValueError, match="protocol: unknown protocol 'lecun'; allowed values: hinton, authors"):
        PCDSchedule.from_protocol("lecun")
    with pytest.raises(ValueError, match="decay: 'cosine' is not allowed; allowed values: t0_over_t, shifted_inverse"):
        PCDSchedule(decay="cosine")
    with pytest.raises(ValueError, match="unknown schedule key"):
        PCDSchedule.from_protocol("authors", momentum=0.9)
    section = {"training": {"protocol": "authors"}, "generation": {}}
    assert generation_visible(section) == "mean_field"
    assert generation_visible({**section, "generation": {"visible": "sample"}}) == "sample"
    assert split_rows({"train_samples": 6}, 10) == 6 and split_rows({}, 10) == 10
    with pytest.raises(ValueError, match="relevance.train_samples must lie in 2..10"):
        split_rows({"train_samples": 11}, 10)


def _recording_gradient(rbm, calls):
    original = rbm.gradient

    def gradient(v_data, v_model):
        calls.append((v_data.clone(), v_model.clone()))
        return original(v_data, v_model)

    rbm.gradient = gradient


def test_authors_chains_give_100_mean_field_negatives_in_data_order():
    g = torch.Generator().manual_seed(0)
    data = torch.rand(300, 12, generator=g, dtype=torch.float64)
    rbm, calls = RBM(12, 5), []
    _recording_gradient(rbm, calls)
    train_rbm(rbm, data, PCDSchedule.from_protocol("authors", epochs=2), torch.Generator().manual_seed(1))
    assert len(calls) == 2 * 3  # 3 batches of 100 per epoch
    v_data, v_model = calls[0]
    assert v_model.shape == (25 * 4, 12)  # 25 particles read 4 times
    assert not torch.all((v_model == 0) | (v_model == 1))  # mean-field visible units
    assert torch.equal(v_data, data[:100]) and torch.equal(calls[4][0], data[100:200])  # fixed order
    # hinton: one binary negative per batch sample, shuffled batches
    rbm, calls = RBM(12, 5), []
    _recording_gradient(rbm, calls)
    train_rbm(rbm, data, PCDSchedule.from_protocol("hinton", epochs=1), torch.Generator().manual_seed(1))
    v_data, v_model = calls[0]
    assert v_model.shape == (50, 12) and torch.all((v_model == 0) | (v_model == 1))
    assert not torch.equal(v_data, data[:50])


def _trained(schedule, seed=3):
    g = torch.Generator().manual_seed(0)
    data = (torch.rand(200, 8, generator=g, dtype=torch.float64) < 0.3).to(torch.float64)
    rbm = RBM(8, 4)
    train_rbm(rbm, data, schedule, torch.Generator().manual_seed(seed))
    return rbm


def test_scaled_momentum_is_velocity_momentum_at_unit_rate_and_without_momentum():
    # dw = lr (g + a dw) equals dw = a dw + lr g when lr = 1, or when a = 0
    for kw in ({"learning_rate": 1.0, "decay_start": 1.0}, {"momentum_start": 0.0}):
        a = _trained(PCDSchedule(epochs=3, batch_size=20, momentum_update="scaled", **kw))
        b = _trained(PCDSchedule(epochs=3, batch_size=20, momentum_update="velocity", **kw))
        assert torch.allclose(a.W, b.W, atol=1e-12) and torch.allclose(a.b, b.b, atol=1e-12)
    a = _trained(PCDSchedule(epochs=3, batch_size=20, momentum_update="scaled"))
    b = _trained(PCDSchedule(epochs=3, batch_size=20, momentum_update="velocity"))
    assert not torch.allclose(a.W, b.W)


def test_authors_protocol_trains_and_generates_mean_field():
    rng = np.random.default_rng(0)
    prototypes = np.array([[1, 1, 1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 1, 1, 0, 1]], dtype=float)
    x = prototypes[rng.integers(0, 2, 400)]
    data = np.where(rng.random(x.shape) < 0.05, 1 - x, x)
    schedule = PCDSchedule.from_protocol("authors", epochs=20, batch_size=20, n_chains=10)
    dbn, states, errors = train_dbn(data[:300], [6, 3], schedule, seed=0, snapshots=[0, 20], measure=data)
    assert errors[1][-1] < errors[1][0]
    assert states[(1, 20)].shape == (400, 6)  # training and held-out rows
    samples = generate(dbn, 1, 50, 20, torch.Generator().manual_seed(0), mean_field=True)
    assert samples.shape == (50, 8) and (samples >= 0).all() and (samples <= 1).all()
    # one-layer mean-field samples sit near a prototype
    nearest = np.minimum(np.abs(samples - prototypes[0]).mean(1), np.abs(samples - prototypes[1]).mean(1))
    assert np.median(nearest) < 0.25


def test_chunked_nearest_distances_equal_the_full_matrix():
    rng = np.random.default_rng(0)
    data = rng.random((37, 9))
    samples = rng.random((11, 9))
    d = np.sqrt(((samples[:, None, :] - data[None, :, :]) ** 2).mean(-1))
    for block in (1, 4, 7, 37, 100):
        assert nearest_rms(samples, data, block_rows=block) == pytest.approx(d.min(1), abs=1e-12)
    own = np.sqrt(((data[:11, None, :] - data[None, :, :]) ** 2).mean(-1))
    own[np.arange(11), np.arange(11)] = np.inf
    for block in (1, 5, 37):
        assert nearest_rms(data[:11], data, exclude_self=True, block_rows=block) == pytest.approx(own.min(1), abs=1e-12)
    with pytest.raises(ValueError, match="block_rows must be >= 1"):
        nearest_rms(samples, data, block_rows=0)


def test_memory_benchmark_stays_below_the_declared_mem_mb():
    # a tenth of the paper's rows keeps the test quick; the report quotes the full-size run
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "relevance_memory.py"), "--rows", "6000",
                           "--samples", "200"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("generation step: peak RSS"))
    peak, limit = (float(v) for v in (line.split()[4], line.split()[8].rstrip(":")))
    assert 0 < peak < limit
