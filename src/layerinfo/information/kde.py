"""Kernel (mixture-of-Gaussians) estimators of I(X;T) and I(T;Y), in bits.

The layer's values T, with Gaussian noise of variance ``noise_variance`` added, form a
mixture of N Gaussians. Kolchinsky & Tracey (2017) bound its entropy with pairwise
distances D_ij = ||t_i - t_j||^2:

    upper (KL):            H = d/2 - mean_i ln[(1/N) sum_j exp(-D_ij / (2 s2))] + d/2 ln(2 pi s2)
    lower (Bhattacharyya): same with D_ij / (8 s2) in place of D_ij / (2 s2)

Subtracting the noise entropy d/2 ln(2 pi e s2) gives

    I(X;T) = ln N - mean_i ln S_i,           S_i = sum_j exp(-D_ij / a)
    I(T;Y) = mean_i [ln(S_i^c / N_c) - ln(S_i / N)],   S_i^c = sum over j in i's class c

with a = 2 s2 (upper) or 8 s2 (lower); I(T;Y) = H(T) - sum_c p_c H(T | c) with the
same bound on both terms (the published convention). Because D_ii = 0 every S_i >= 1,
so the sums need no max-shift: they cannot overflow and cannot underflow to 0.

Speed-ups that change no value beyond rounding (relative 1e-13 in the tests):

* identical rows are collapsed to unique rows with class counts;
* the N x N kernel is built in blocks of at most 256 rows, never whole, and its symmetry
  halves the work; one matrix product per block gives the exponent;
* estimators on one layer share the block's distances, and a kernel a quarter or half
  as wide as another is that one squared (one multiplication instead of exp);
* rows are ordered in compact blocks (a k-d tree), and a block pair too far apart for a
  kernel to add 1e-20 of any sum skips that kernel;
* exponents are floored at -700, where exp() leaves its fast path (exp(-700) = 1e-304), in the
  block pairs whose bounding boxes allow an exponent that low (elsewhere the floor is a no-op).
"""

from __future__ import annotations

import math

import numpy as np
import torch

def _unique_rows_with_class_counts(t: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Distinct rows of ``t`` (as float64) and, per row, how many samples of each class it holds.

    Rows are compared as raw bytes of the input dtype, which is fast; rows that are equal
    in value but not in bytes (-0.0 and 0.0) stay separate, which leaves the sums unchanged.
    """
    classes, y = np.unique(labels, return_inverse=True)
    t = np.ascontiguousarray(t)
    keys = t.view(np.dtype((np.void, t.dtype.itemsize * t.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    c = len(classes)
    counts = np.bincount(inverse.ravel() * c + y.ravel(), minlength=first.size * c).reshape(first.size, c)
    return t[first].astype(np.float64), counts.astype(np.float64), c


def _shared_exponentials(widths: list[float]) -> list[int]:
    """For each width (in the given order), how many squarings turn the previous kernel into it.

    exp(-D / a) = exp(-D / (4a))^4: where a width is exactly a quarter or half of the one
    before it, its kernel is the previous one squared twice or once (one multiplication
    per entry instead of an exponential); 0 means the same width again, and -1 that the
    exponential must be evaluated.
    """
    steps = [-1]
    for prev, a in zip(widths[:-1], widths[1:]):
        steps.append({a: 0, 2.0 * a: 1, 4.0 * a: 2}.get(prev, -1))
    return steps


def _tree_blocks(x: np.ndarray, leaf: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """An order of the rows of ``x`` in compact blocks of at most ``leaf`` rows.

    The rows are halved at the median of their widest coordinate, recursively (a k-d
    tree), so that points of one block are close together and far blocks can be skipped.
    """
    pieces = []

    def split(idx: np.ndarray) -> None:
        if len(idx) <= leaf:
            pieces.append(idx)
            return
        sub = x[idx]
        dim = int(np.argmax(sub.max(axis=0) - sub.min(axis=0)))
        part = idx[np.argsort(sub[:, dim], kind="stable")]
        split(part[: len(idx) // 2])
        split(part[len(idx) // 2:])

    split(np.arange(len(x)))
    ends = np.cumsum([len(p) for p in pieces])
    return np.concatenate(pieces), [(int(e - len(p)), int(e)) for p, e in zip(pieces, ends)]


def _block_distances(x: np.ndarray, blocks: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest squared distance between the bounding boxes of every two blocks of rows."""
    lo = np.stack([x[i0:i1].min(axis=0) for i0, i1 in blocks])
    hi = np.stack([x[i0:i1].max(axis=0) for i0, i1 in blocks])
    gap = np.maximum(0.0, np.maximum(lo[None, :, :] - hi[:, None, :], lo[:, None, :] - hi[None, :, :]))
    span = np.maximum(hi[None, :, :] - lo[:, None, :], hi[:, None, :] - lo[None, :, :])
    return (gap * gap).sum(axis=2), (span * span).sum(axis=2)


# A block's kernel is skipped where every entry is below exp(-cut): with K rows the sum of
# what is skipped is below K exp(-cut), relative to S_i >= 1 (i's own term) below 1e-20.
_NEGLIGIBLE_EXPONENT = 46.0 * math.log(10.0)


# exp() of arguments below about -708 (subnormal or zero results) takes a slow path, 50 to
# 200 times slower; exp(-700) = 1e-304 is as negligible as 0 next to a sum >= 1.
_EXPONENT_FLOOR = -700.0


def _kernel_sums(x: np.ndarray, c: torch.Tensor, widths: list[float], block: int) -> list[torch.Tensor]:
    """S[w][i, k] = sum_j c[j, k] exp(-||x_i - x_j||^2 / widths[w]), for all unique rows i.

    D is symmetric, so only blocks on and above the diagonal are computed; each
    off-diagonal block serves both its rows and (transposed) its columns. One matrix
    product per block gives -D / widths[0] directly, from rows augmented with their
    squared norms ([x, |x|^2, 1] . [2x, -1, -|x|^2] = -D). Rows are grouped in compact
    blocks, and a block pair whose nearest points are too far apart for a kernel to
    contribute (below 1e-20 of any sum) skips that kernel, or the whole pair.
    """
    k = x.shape[0]
    dev = c.device
    order = sorted(range(len(widths)), key=lambda w: -widths[w])
    a = [widths[w] for w in order]
    squarings = _shared_exponentials(a)
    x = x - x.mean(axis=0)  # distances are unchanged; smaller norms mean less cancellation
    rows, blocks = _tree_blocks(x, block)
    x = x[rows]
    cut = _NEGLIGIBLE_EXPONENT + math.log(k)
    nearest, farthest = _block_distances(x, blocks)
    # needed[i, j]: how many of the widths (widest first) block pair (i, j) must evaluate;
    # floored[i, j]: how many of them (widest first) cannot reach the exponent floor there; the
    # narrower ones may.
    needed = (nearest[:, :, None] < cut * np.asarray(a)[None, None, :]).sum(axis=2)
    floored = (farthest[:, :, None] <= -_EXPONENT_FLOOR * np.asarray(a)[None, None, :]).sum(axis=2)
    u = torch.as_tensor(x, device=dev)
    sq = (u * u).sum(dim=1, keepdim=True)
    ones = torch.ones_like(sq)
    left = torch.cat([u, sq, ones], dim=1)
    right = torch.cat([2.0 * u, -ones, -sq], dim=1) / a[0]
    # Sums are kept as (C, K): (C, B) @ (B, B) products are several times faster than
    # (B, B) @ (B, C) for the few classes C of a classification task.
    ct = c[torch.as_tensor(rows, device=dev)].T.contiguous()
    # Views per block, made once: the loop below runs ~10^3 times per layer, where slicing
    # and temporaries cost as much as the small products themselves.
    lefts = [left[i0:i1] for i0, i1 in blocks]
    rights = [right[i0:i1].T for i0, i1 in blocks]
    cts = [ct[:, i0:i1] for i0, i1 in blocks]
    sums = [[torch.zeros(ct.shape[0], i1 - i0, dtype=u.dtype, device=dev) for i0, i1 in blocks] for _ in a]
    size = max(i1 - i0 for i0, i1 in blocks)
    # Flat buffers, so that the views of smaller blocks stay contiguous.
    exponent = torch.empty(size * size, dtype=u.dtype, device=dev)
    kernel = torch.empty_like(exponent)
    for bi in range(len(blocks)):
        for bj in range(bi, len(blocks)):
            n_widths = int(needed[bi, bj])
            if n_widths == 0:
                continue
            shape = (lefts[bi].shape[0], rights[bj].shape[1])
            g = exponent[: shape[0] * shape[1]].view(shape)
            e = kernel[: shape[0] * shape[1]].view(shape)
            torch.mm(lefts[bi], rights[bj], out=g)  # -D / a[0]
            first_floored = int(floored[bi, bj])
            for w in range(n_widths):
                steps = squarings[w]
                # The floor is applied only where an exponent can reach it: the clamp is a
                # full pass over the block, and a no-op elsewhere.
                if w == 0:
                    if w >= first_floored:
                        torch.clamp(g, min=_EXPONENT_FLOOR, out=e).exp_()
                    else:
                        torch.exp(g, out=e)
                elif steps < 0:
                    torch.mul(g, a[0] / a[w], out=e)
                    if w >= first_floored:
                        e.clamp_(min=_EXPONENT_FLOOR)
                    e.exp_()
                for _ in range(max(steps, 0)):
                    e.square_()
                torch.addmm(sums[w][bi], cts[bj], e.T, out=sums[w][bi])
                if bj != bi:
                    torch.addmm(sums[w][bj], cts[bi], e, out=sums[w][bj])
    back = torch.as_tensor(np.argsort(rows), device=dev)
    out = [None] * len(widths)
    for w, s in zip(order, sums):
        out[w] = torch.cat(s, dim=1).T[back]
    return out


def kernel_information(
    activations: np.ndarray,
    labels: np.ndarray,
    widths: list[float],
    device: str | torch.device = "cpu",
    block: int | None = None,
) -> list[dict[str, float]]:
    """I(X;T) and I(T;Y) in bits for Gaussian kernels exp(-D_ij / a), one result per ``a`` in ``widths``.

    Parameters
    ----------
    activations : ndarray of shape (n_samples, n_units)
    labels : ndarray of shape (n_samples,), integer classes
    widths : list of float
        Kernel denominators ``a`` (``2 * noise_variance`` for the upper bound,
        ``8 * noise_variance`` for the lower bound). Sharing one call shares the distances.
    device : torch device for the arithmetic (float64 throughout).
    block : int, optional
        Rows and columns per kernel block (memory is O(block^2), not O(N^2)). Default 256
        on the CPU, where blocks should stay in cache, and 4096 on a GPU, where fewer and
        larger products keep it busy.
    """
    t = np.asarray(activations)
    if not np.issubdtype(t.dtype, np.floating):
        t = t.astype(np.float64)
    rows, counts, _ = _unique_rows_with_class_counts(t, labels)
    n = float(t.shape[0])
    dev = torch.device(device)
    if block is None:
        block = 256 if dev.type == "cpu" else 4096
    c = torch.as_tensor(counts, device=dev)  # (K, C) samples per unique row and class
    c_row = c.sum(dim=1)
    log_n_class = torch.log(c.sum(dim=0))
    present = c > 0
    results = []
    for s_class in _kernel_sums(rows, c, widths, block):
        log_s = torch.log(s_class.sum(dim=1))
        # Only (row, class) pairs that occur contribute; their S^c >= 1 so the log is finite.
        log_s_class = torch.log(torch.where(present, s_class, 1.0))
        i_xt = math.log(n) - (c_row * log_s).sum().item() / n
        i_ty = ((c * (log_s_class - log_n_class)).sum() - (c_row * (log_s - math.log(n))).sum()).item() / n
        results.append({"I_XT": i_xt / math.log(2.0), "I_TY": i_ty / math.log(2.0)})
    return results


def kde_information(
    activations: np.ndarray,
    labels: np.ndarray,
    noise_variance: float,
    bound: str = "upper",
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Kolchinsky–Tracey pairwise-distance bound on I(X;T), and I(T;Y), in bits.

    Parameters
    ----------
    activations : ndarray of shape (n_samples, n_units)
    labels : ndarray of shape (n_samples,)
    noise_variance : float
        Variance s2 of the Gaussian noise added to each unit (published: 0.1 and 1e-3).
    bound : {"upper", "lower"}
        KL-divergence (upper) or Bhattacharyya (lower) pairwise bound.

    References
    ----------
    Kolchinsky & Tracey, Entropy 19 (2017) 361; Saxe et al., ICLR 2018.
    """
    if bound not in ("upper", "lower"):
        raise ValueError(f"bound must be 'upper' or 'lower', got {bound!r}")
    if not noise_variance > 0:
        raise ValueError(f"noise_variance must be > 0, got {noise_variance}")
    factor = 2.0 if bound == "upper" else 8.0
    return kernel_information(activations, labels, [factor * noise_variance], device)[0]


def kernel_width(method: str, params: dict, activations: np.ndarray) -> float | None:
    """Kernel denominator ``a`` of a KDE method applied to ``activations`` as they are.

    ``None`` for methods that transform the activations first (``akde`` variant ``code``),
    which therefore cannot share a :func:`kernel_information` call with the others.
    """
    if method == "kde_upper":
        return 2.0 * params["noise_variance"]
    if method == "kde_lower":
        return 8.0 * params["noise_variance"]
    if method == "akde" and params["variant"] in ADAPTIVE_NOISE:
        return 2.0 * ADAPTIVE_NOISE[params["variant"]](np.asarray(activations), params["scale"])
    return None


def paper_noise_variance(t: np.ndarray, scale: float) -> float:
    """Noise variance ``scale * max|T|`` of the adaptive KDE's ``paper`` variant.

    Our reading of the paper (its text could not be read; two secondary descriptions agree):
    the noise variance is proportional to the layer's maximum activity at that epoch. The
    absolute value keeps it defined for a layer whose values are all negative; for tanh at
    saturation (max|T| = 1) and scale 0.1 it is the fixed-noise bound at variance 0.1.
    """
    peak = float(np.abs(t).max())
    # A layer that is zero everywhere carries no information; any positive noise gives 0.
    return scale * peak if peak > 0 else 1.0


def range_noise_variance(t: np.ndarray, scale: float) -> float:
    """Noise variance ``(scale * (max T - min T))**2`` of the ``range`` variant: the noise std
    follows the activity range, so the estimate does not change when T is rescaled."""
    spread = float(t.max() - t.min())
    return (scale * spread) ** 2 if spread > 0 else 1.0


# akde variants whose noise is a function of the layer's values (they act on T as it is)
ADAPTIVE_NOISE = {"paper": paper_noise_variance, "range": range_noise_variance}


def akde_information(
    activations: np.ndarray,
    labels: np.ndarray,
    variant: str = "paper",
    scale: float = 0.1,
    noise_std: float = 0.01,
    kernel_variance: float = 0.01,
    seed: int = 0,
    rng: np.random.Generator | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Adaptive KDE (Chelombiev et al. 2019): the KL upper bound with a layer-dependent noise.

    Parameters
    ----------
    activations : ndarray of shape (n_samples, n_units)
    labels : ndarray of shape (n_samples,)
    variant : {"paper", "range", "code"}
        ``"paper"``: noise variance ``scale * max|T|`` over all units and samples of this layer
        and epoch (:func:`paper_noise_variance`; our reading of the paper). ``"range"``: noise
        standard deviation ``scale * (max(T) - min(T))`` (:func:`range_noise_variance`; scale
        invariant, an earlier reading). ``"code"``: as in the published code, jitter
        ``N(0, noise_std**2)`` is added to T, absolute values are taken, and the kernel
        variance is the fixed ``kernel_variance``.
    scale : float
        The constant of the ``"paper"`` or ``"range"`` noise.
    noise_std, kernel_variance : float
        Jitter and kernel variance of the ``"code"`` variant.
    seed : int
        Seed of the jitter (``"code"``); the estimate is reproducible from it.
    rng : numpy.random.Generator, optional
        Source of the jitter instead of ``seed`` (for a sequence of independent jitters).
    """
    t = np.asarray(activations, dtype=np.float64)
    if variant in ADAPTIVE_NOISE:
        return kde_information(t, labels, ADAPTIVE_NOISE[variant](t, scale), "upper", device)
    if variant == "code":
        rng = np.random.default_rng(seed) if rng is None else rng
        jittered = np.abs(t + rng.normal(0.0, noise_std, size=t.shape))
        return kde_information(jittered, labels, kernel_variance, "upper", device)
    raise ValueError(f"variant must be one of paper, range, code; got {variant!r}")
