"""Image segmentation with a Gaussian mixture on pixel colours: the Python API behind ``gmmkit segment``.

Method: pixel features (CIELAB by default, optionally with position) are
computed for every pixel; a :class:`gmmkit.GaussianMixture` is fitted on a
random subsample of them (200,000 by default, K fixed or chosen by BIC); then
every pixel is labelled in one parallel pass. With ``smooth=beta > 0`` the
labels are the local optimum (ICM) of the GMM log-likelihood plus a Potts prior
that costs ``beta`` nats for every pair of 4-neighbours with different labels,
which removes the salt-and-pepper noise a per-pixel classifier leaves.

>>> import numpy as np
>>> from gmmkit_apps.segment import segment_image
>>> rng = np.random.default_rng(0)
>>> truth = np.zeros((60, 80), dtype=int); truth[20:45, 25:60] = 1
>>> img = np.where(truth[..., None] == 1, [200, 60, 40], [40, 90, 200])
>>> img = np.clip(img + rng.normal(scale=40, size=img.shape), 0, 255).astype(np.uint8)
>>> seg = segment_image(img, k=2, smooth=2.0, random_state=0)
>>> labels, model = seg
>>> labels.shape, model.n_components
((60, 80), 2)
>>> acc = max(np.mean(labels == truth), np.mean(labels != truth))
>>> bool(acc > 0.99)
True
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from gmmkit.exceptions import DataError, GMMKitError, ParameterError

from .colour import FEATURES, pixel_features
from .images import Picture, check_palette_size, label_palette, picture_from_array

DEFAULT_FIT_PIXELS = 200_000
DEFAULT_K_RANGE = range(2, 9)
# BIC for ``k='auto'`` is computed on at most this many of the fit pixels
SELECT_PIXELS = 50_000
BOUNDARY_COLOUR = (255, 230, 0)


@dataclass
class Segmentation:
    """Result of :func:`segment_image`; unpacks as ``labels, model``.

    Attributes
    ----------
    labels : (H, W) int32 array
        Component of every pixel (-1 where the pixel is masked out).
    model : gmmkit.GaussianMixture
        The mixture fitted on the subsample, in the feature space.
    mean_colors : (K, 3) uint8 array
        Mean RGB colour of the pixels given to each component.
    fractions : (K,) float array
        Share of the (unmasked) pixels in each component.
    log_likelihood, bic : float
        Mean log-likelihood per pixel and BIC of the model on the fit pixels.
    probabilities : (K, H, W) float32 array or None
        Posterior p(k | pixel) of the mixture, or the mean-field marginals when smoothed
        by mean-field (only with ``probabilities=True``).
    """

    labels: np.ndarray
    model: object
    features: str
    spatial: float
    smooth: float
    smooth_method: str
    mean_colors: np.ndarray
    fractions: np.ndarray
    log_likelihood: float
    bic: float
    n_fit_pixels: int
    n_sweeps: int
    k_table: list | None = None
    probabilities: np.ndarray | None = None
    timings: dict = field(default_factory=dict)
    picture: Picture | None = None

    def __iter__(self):
        yield self.labels
        yield self.model

    @property
    def n_components(self):
        return int(self.model.n_components)

    def summary(self):
        """JSON-ready dict: K, weights, mean colours, log-likelihood, BIC, timings..."""
        m = self.model
        H, W = self.labels.shape
        return {
            "width": int(W), "height": int(H),
            "n_pixels": int(H * W),
            "n_masked": int(np.count_nonzero(self.labels < 0)),
            "features": self.features,
            "spatial": float(self.spatial),
            "smooth": float(self.smooth),
            "smooth_method": self.smooth_method if self.smooth > 0 else None,
            "k": self.n_components,
            "k_selection": self.k_table,
            "covariance_type": m.covariance_type,
            "weights": [float(w) for w in m.weights_],
            "pixel_fractions": [float(f) for f in self.fractions],
            "mean_colors": ["#{:02x}{:02x}{:02x}".format(*(int(v) for v in c)) for c in self.mean_colors],
            "means": np.asarray(m.means_, dtype=float).round(4).tolist(),
            "log_likelihood": float(self.log_likelihood),
            "bic": float(self.bic),
            "n_fit_pixels": int(self.n_fit_pixels),
            "converged": bool(m.converged_),
            "n_iter": int(m.n_iter_),
            "smooth_sweeps": int(self.n_sweeps),
            "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
        }


def _check_k(k):
    if isinstance(k, str):
        if k.strip().lower() == "auto":
            return "auto"
        try:
            k = int(k)
        except ValueError:
            raise ParameterError(f"k must be a whole number >= 1 or 'auto', got {k!r}") from None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a whole number >= 1 or 'auto', got {k!r}")
    check_palette_size(int(k))
    return int(k)


def _features(pic, kind, spatial, rng):
    """(N, D) float32 features of all pixels (position appended when spatial > 0)."""
    H, W = pic.shape
    pix = pic.pixels.reshape(H * W, -1) if not pic.is_gray else pic.pixels.reshape(H * W)
    X = pixel_features(pix, "gray" if pic.is_gray else kind)
    if spatial <= 0:
        return X
    # position weighs `spatial` times as much as colour: coordinates are scaled so
    # that their spread matches the colour features' root-mean variance
    probe = X[rng.integers(0, X.shape[0], size=min(X.shape[0], 20_000))]
    colour_sd = float(np.sqrt(np.mean(np.var(probe, axis=0)))) or 1.0
    side = float(max(H, W))
    scale = np.float32(spatial * colour_sd / (side / math.sqrt(12)))
    out = np.empty((H * W, X.shape[1] + 2), dtype=np.float32)
    out[:, :-2] = X
    rows = np.arange(H, dtype=np.float32) * scale
    cols = np.arange(W, dtype=np.float32) * scale
    out[:, -2].reshape(H, W)[:] = rows[:, None]
    out[:, -1].reshape(H, W)[:] = cols[None, :]
    return out


def _subsample(active, n_active, n, rng):
    if n >= n_active:
        return active if active is not None else slice(None)
    if active is None:
        idx = rng.choice(n_active, size=n, replace=False)
    else:
        idx = active[rng.choice(n_active, size=n, replace=False)]
    idx.sort()
    return idx


def select_k(X, *, k_range=DEFAULT_K_RANGE, covariance_type="full", random_state=0):
    """Pick the number of components by BIC on the rows of X.

    Returns
    -------
    k : int
    table : list of dict
        One row per K tried: ``{"k", "bic"}`` (from :func:`gmmkit.select`).
    """
    import gmmkit

    ks = [int(k) for k in k_range]
    if not ks or min(ks) < 1:
        raise ParameterError(f"the K range for 'auto' must hold whole numbers >= 1, got {ks}")
    ks = [k for k in ks if k <= X.shape[0]]
    res = gmmkit.select(X, n_components=ks, covariance_types=(covariance_type,), criterion="bic",
                        random_state=random_state, max_iter=200)
    rows = [{"k": int(r["n_components"]), "bic": float(r["bic"])}
            for _, r in res.table.sort_values("n_components").iterrows()]
    return int(res.best_params_["n_components"]), rows


def segment_image(image, *, k=4, features="lab", spatial=0.0, smooth=0.0,
                  fit_pixels=DEFAULT_FIT_PIXELS, k_range=DEFAULT_K_RANGE, covariance_type="full",
                  mask=None, probabilities=False, random_state=0, smooth_method="icm", max_sweeps=20,
                  estimator=None):
    """Segment an image by a Gaussian mixture on pixel colours, optionally smoothed by a Potts prior.

    Parameters
    ----------
    image : array or Picture
        (H, W) gray (uint8, uint16 or float), (H, W, 3) uint8 RGB, (H, W, 4) RGBA
        (alpha 0 masks a pixel out), or a :class:`~gmmkit_apps.segment.images.Picture`
        from :func:`~gmmkit_apps.segment.images.read_image`.
    k : int or 'auto'
        Number of components; 'auto' picks it by BIC over ``k_range``.
    features : {'lab', 'rgb', 'hsv', 'gray'}
        Colour space of the features (gray images always use 'gray').
    spatial : float
        Weight of the pixel position relative to colour (0 = colour only).
    smooth : float
        Potts strength beta (nats per disagreeing 4-neighbour pair); 0 = none.
    fit_pixels : int
        Fit on at most this many randomly chosen pixels.
    k_range : iterable of int
        Candidates for ``k='auto'``.
    covariance_type : str
        Of the mixture ('full', 'diag', 'tied', 'spherical').
    mask : (H, W) bool array, optional
        Pixels to use (combined with an alpha channel).
    probabilities : bool
        Also return the per-component posterior maps.
    random_state : int
        Seed of the subsample and of the mixture's initialisation.
    smooth_method : {'icm', 'meanfield'}
        How the Potts model is solved: iterated conditional modes (fast, labels only)
        or mean-field (about K exponentials per pixel per sweep; ``probabilities``
        are then the smoothed marginals rather than the mixture's posterior).
    max_sweeps : int
        At most this many sweeps when smoothing.
    estimator : class, optional
        Mixture class to use instead of :class:`gmmkit.GaussianMixture`, with the
        same constructor and attributes (e.g. :class:`sklearn.mixture.GaussianMixture`;
        the benchmark runs the same pipeline with both).

    Returns
    -------
    Segmentation
        Unpacks as ``labels, model``; see :class:`Segmentation`.
    """
    from gmmkit import GaussianMixture

    from .mrf import component_logp, potts_icm, potts_meanfield, softmax_maps

    t_all = time.perf_counter()
    k = _check_k(k)
    if features not in FEATURES:
        raise ParameterError(f"unknown feature space {features!r}; choose one of {', '.join(FEATURES)}")
    for name, v in (("spatial", spatial), ("smooth", smooth)):
        if not (isinstance(v, (int, float, np.floating, np.integer)) and np.isfinite(v) and v >= 0):
            raise ParameterError(f"{name} must be a number >= 0, got {v!r}")
    if smooth_method not in ("icm", "meanfield"):
        raise ParameterError(f"smooth_method must be 'icm' or 'meanfield', got {smooth_method!r}")
    if int(fit_pixels) < 2:
        raise ParameterError(f"fit_pixels must be at least 2, got {fit_pixels}")
    pic = image if isinstance(image, Picture) else picture_from_array(image, mask=mask)
    H, W = pic.shape
    rng = np.random.default_rng(random_state)
    timings = {}

    t = time.perf_counter()
    X = _features(pic, features, float(spatial), rng)
    active = None if pic.mask is None else np.flatnonzero(pic.mask.ravel())
    n_active = H * W if active is None else active.size
    fit_idx = _subsample(active, n_active, int(fit_pixels), rng)
    Xfit = np.ascontiguousarray(X[fit_idx])
    timings["features"] = time.perf_counter() - t

    t = time.perf_counter()
    k_table = None
    n_min = 2 if k == "auto" else k
    if Xfit.shape[0] < max(n_min, 2):
        raise DataError(f"only {Xfit.shape[0]} usable pixel(s), fewer than k={n_min}")
    if k == "auto":
        sel = Xfit
        if Xfit.shape[0] > SELECT_PIXELS:
            sel = Xfit[np.sort(rng.choice(Xfit.shape[0], SELECT_PIXELS, replace=False))]
        k, k_table = select_k(sel, k_range=k_range, covariance_type=covariance_type,
                              random_state=random_state)
        check_palette_size(k)
    mixture = estimator or GaussianMixture
    model = mixture(k, covariance_type=covariance_type, random_state=random_state, max_iter=200)
    model.fit(Xfit)
    timings["fit"] = time.perf_counter() - t

    t = time.perf_counter()
    n_sweeps = 0
    proba = None
    if smooth == 0 and not probabilities:
        labels = np.full(H * W, -1, dtype=np.int32)
        if active is None:
            labels[:] = model.predict(X)
        else:
            labels[active] = model.predict(X[active])
        labels = labels.reshape(H, W)
        timings["label"] = time.perf_counter() - t
    else:
        logp = component_logp(model, X)
        del X
        timings["label"] = time.perf_counter() - t
        t = time.perf_counter()
        if smooth_method == "icm":
            labels, n_sweeps = potts_icm(logp.reshape(H, W, k), float(smooth), mask=pic.mask,
                                         max_sweeps=max_sweeps)
            q = softmax_maps(logp, None if pic.mask is None else pic.mask.ravel()) if probabilities else None
        else:
            labels, q, n_sweeps = potts_meanfield(logp.reshape(H, W, k), float(smooth), mask=pic.mask,
                                                  max_sweeps=max_sweeps)
        del logp
        timings["smooth"] = time.perf_counter() - t
        if probabilities:
            proba = np.ascontiguousarray(np.moveaxis(q.reshape(H, W, k), 2, 0))

    t = time.perf_counter()
    mean_colors, counts = _mean_colours(pic.display, labels, k)
    fractions = counts / max(counts.sum(), 1)
    ll = model.score(Xfit)
    bic = model.bic(Xfit)
    timings["stats"] = time.perf_counter() - t
    timings["segment_total"] = time.perf_counter() - t_all
    return Segmentation(labels=labels, model=model, features="gray" if pic.is_gray else features,
                        spatial=float(spatial), smooth=float(smooth), smooth_method=smooth_method,
                        mean_colors=mean_colors,
                        fractions=fractions, log_likelihood=ll, bic=bic,
                        n_fit_pixels=int(Xfit.shape[0]), n_sweeps=n_sweeps, k_table=k_table,
                        probabilities=proba, timings=timings, picture=pic)


def _mean_colours(display, labels, k):
    """Mean RGB colour (K, 3) uint8 and pixel count (K,) of every label (128 gray if empty)."""
    from ._kernels import colour_sums_range
    from .mrf import _run_chunks

    pix = np.ascontiguousarray(display.reshape(-1, 3))
    flat = np.ascontiguousarray(labels.ravel(), dtype=np.int32)
    acc = []  # one (counts, sums) pair per chunk: chunks never share an accumulator

    def args_for(lo, hi):
        acc.append((np.zeros(k), np.zeros((k, 3))))
        return (pix, flat, lo, hi, *acc[-1])

    _run_chunks(colour_sums_range, flat.size, args_for)
    counts = sum(c for c, _ in acc)
    sums = sum(s for _, s in acc)
    with np.errstate(invalid="ignore", divide="ignore"):
        colours = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], 128.0)
    return np.clip(np.rint(colours), 0, 255).astype(np.uint8), counts


def boundary_mask(labels, thickness=1):
    """(H, W) bool: pixels whose right or lower neighbour has another label, grown to ``thickness``."""
    b = np.zeros(labels.shape, dtype=bool)
    np.not_equal(labels[:, 1:], labels[:, :-1], out=b[:, :-1])
    b[:-1, :] |= labels[1:, :] != labels[:-1, :]
    for _ in range(int(thickness) - 1):
        g = b.copy()
        g[1:, :] |= b[:-1, :]
        g[:, 1:] |= b[:, :-1]
        b = g
    return b


def output_paths(out_dir, stem, *, probabilities=False):
    """Where :func:`write_outputs` puts each file (a dict name -> path)."""
    paths = {
        "labels": os.path.join(out_dir, f"{stem}_labels.png"),
        "recolored": os.path.join(out_dir, f"{stem}_recolored.png"),
        "boundaries": os.path.join(out_dir, f"{stem}_boundaries.png"),
        "summary": os.path.join(out_dir, f"{stem}_summary.json"),
    }
    if probabilities:
        paths["probabilities"] = os.path.join(out_dir, f"{stem}_proba.npy")
    return paths


def write_outputs(seg, out_dir, stem, *, extra=None):
    """Write the label map, recoloured image, boundaries, probability maps and JSON summary.

    Every file is written atomically; the summary (with the write time) is written last.
    Returns the summary dict.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .images import usual_mode, write_indexed_png, write_npy, write_rgb_png

    t = time.perf_counter()
    pic = seg.picture
    H, W = seg.labels.shape
    k = seg.n_components
    paths = output_paths(out_dir, stem, probabilities=seg.probabilities is not None)
    os.makedirs(out_dir, exist_ok=True)
    index = seg.labels.astype(np.uint8)  # -1 -> 255: the transparent entry
    transparent = 255 if pic is not None and pic.mask is not None else None
    jobs = [
        (write_indexed_png, (paths["labels"], index, label_palette(k)), {"transparent": transparent}),
        (write_indexed_png, (paths["recolored"], index, seg.mean_colors), {"transparent": transparent}),
    ]
    if pic is not None:
        over = pic.display.copy()
        over[boundary_mask(seg.labels, max(1, max(H, W) // 1500))] = BOUNDARY_COLOUR
        jobs.append((write_rgb_png, (paths["boundaries"], over), {}))
    else:
        paths.pop("boundaries")
    if seg.probabilities is not None:
        jobs.append((write_npy, (paths["probabilities"], seg.probabilities), {}))
    # PNG encoding releases the GIL: the files are written side by side
    with ThreadPoolExecutor(max_workers=min(len(jobs), 3)) as pool:
        for f in [pool.submit(fn, *a, **kw) for fn, a, kw in jobs]:
            f.result()
    seg.timings["write"] = time.perf_counter() - t
    seg.timings["total"] = sum(v for key, v in seg.timings.items()
                               if key not in ("segment_total", "total"))
    summary = dict(extra or {})
    summary.update(seg.summary())
    summary["outputs"] = paths
    from gmmkit import __version__

    summary["gmmkit_version"] = __version__
    from gmmkit.io import atomic_path

    with atomic_path(paths["summary"], suffix=".json") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2)
            fh.write("\n")
        usual_mode(tmp)
    return summary


def segment_file(path, out_dir, *, stem=None, max_pixels=None, **kwargs):
    """Read an image file, segment it with :func:`segment_image` and write every output.

    Parameters
    ----------
    path : str or PathLike
        The image file.
    out_dir : str or PathLike
        Folder for the outputs (created if needed; existing outputs are replaced).
    stem : str, optional
        Output file prefix (default: the image's file name without extension).
    max_pixels : int, optional
        Pixel limit for :func:`~gmmkit_apps.segment.images.read_image`.
    **kwargs
        Passed on to :func:`segment_image`.

    Returns
    -------
    summary : dict
        What is written to ``<stem>_summary.json``.
    """
    from .images import read_image

    t = time.perf_counter()
    pic = read_image(path, max_pixels=max_pixels)
    t_read = time.perf_counter() - t
    try:
        seg = segment_image(pic, **kwargs)
    except GMMKitError as exc:
        if os.fspath(path) in str(exc):
            raise
        raise type(exc)(f"{os.fspath(path)}: {exc}") from None
    seg.timings["read"] = t_read
    stem = stem or os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return write_outputs(seg, os.fspath(out_dir), stem,
                         extra={"image": os.fspath(path), "mode": pic.mode})
