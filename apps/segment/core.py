"""Image segmentation with a Gaussian mixture on pixel colours: the Python API behind ``gmmkit segment``.

Method: pixel features (RGB by default, optionally with position) are
computed for every pixel; spikes of identical values (point masses) are found and
kept out of the fit; a :class:`gmmkit.GaussianMixture` is fitted on a random
subsample of the rest (200,000 by default, K fixed or chosen by ICL); then every
pixel is labelled in one parallel pass. With ``smooth=beta > 0`` a Potts prior
that costs ``beta`` nats for every pair of neighbours with different labels
smooths the labels (ICM, mean-field) or enters the fit itself (``smooth_method='em'``,
:mod:`~gmmkit_apps.segment.hmrf`); ``smooth='auto'`` measures the noise and chooses.
``foreground=`` also decides which segments are foreground
(:mod:`~gmmkit_apps.segment.foreground`).

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

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from gmmkit.exceptions import DataError, GMMKitError, ParameterError

from .colour import FEATURES, pixel_features
from .images import Picture, check_palette_size, picture_from_array

DEFAULT_FIT_PIXELS = 200_000
DEFAULT_K_RANGE = range(2, 9)
SMOOTH_METHODS = ("icm", "meanfield", "em")
# short EM runs before the fit: off by default (measured on the ARC2017 class map: they reach a
# higher likelihood on clipped colours with a worse segmentation, ARI 0.71 against 1.0; docs/segment.md)
DEFAULT_SHORT_RUNS = 0


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
    k_reason: str | None = None
    smoothing_reason: str | None = None
    noise_sd: list | None = None
    contrast_to_noise: float | None = None
    blur: float = 0.0
    point_masses: list = field(default_factory=list)
    foreground: list | None = None
    foreground_rule: str | None = None
    objects: dict | None = None
    notes: list = field(default_factory=list)

    def __iter__(self):
        yield self.labels
        yield self.model

    @property
    def n_components(self):
        """Segments: the mixture's components, then one per point mass modelled apart."""
        return int(self.model.n_components) + sum(1 for p in self.point_masses if p.get("solid"))

    def foreground_mask(self):
        """(H, W) bool: pixels in a foreground segment (all False without a foreground)."""
        if self.foreground is None:
            return np.zeros(self.labels.shape, dtype=bool)
        return np.isin(self.labels, self.foreground)

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
            "smooth": float(self.smooth),  # beta
            "smooth_method": self.smooth_method if self.smooth > 0 else None,
            "k": int(m.n_components),
            "segments": self.n_components,
            "k_selection": self.k_table,
            "k_reason": self.k_reason,
            "noise_sd": self.noise_sd,
            "contrast_to_noise": None if self.contrast_to_noise is None else round(self.contrast_to_noise, 3),
            "smoothing_reason": self.smoothing_reason,
            "blur": float(self.blur),
            "point_masses": self.point_masses,
            "foreground": None if self.foreground is None else {
                "segments": self.foreground, "rule": self.foreground_rule, "objects": self.objects},
            "notes": self.notes,
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


def _check_options(k, features, spatial, smooth, smooth_method, fit_pixels, blur):
    k = _check_k(k)
    if features not in FEATURES:
        raise ParameterError(f"unknown feature space {features!r}; choose one of {', '.join(FEATURES)}")
    if isinstance(smooth, str) and smooth.strip().lower() == "auto":
        smooth = "auto"
    for name, v in (("spatial", spatial), ("smooth", smooth), ("blur", blur)):
        if v == "auto" and name == "smooth":
            continue
        if not (isinstance(v, (int, float, np.floating, np.integer)) and np.isfinite(v) and v >= 0):
            raise ParameterError(f"{name} must be a number >= 0{' or auto' if name == 'smooth' else ''}, got {v!r}")
    if smooth_method not in SMOOTH_METHODS:
        raise ParameterError(f"smooth_method must be one of {', '.join(SMOOTH_METHODS)}, got {smooth_method!r}")
    if int(fit_pixels) < 2:
        raise ParameterError(f"fit_pixels must be at least 2, got {fit_pixels}")
    return k, smooth


def _blurred(X, shape, sigma):
    """Features of every pixel after a Gaussian blur of each channel (the local average)."""
    from scipy.ndimage import gaussian_filter

    H, W = shape
    grid = X.reshape(H, W, -1)
    out = np.empty_like(grid)
    for c in range(grid.shape[2]):
        gaussian_filter(grid[:, :, c], sigma, output=out[:, :, c], mode="nearest")
    return out.reshape(H * W, -1)


def segment_image(image, *, k=4, features="rgb", spatial=0.0, smooth=0.0,
                  fit_pixels=DEFAULT_FIT_PIXELS, k_range=DEFAULT_K_RANGE, covariance_type="full",
                  mask=None, probabilities=False, random_state=0, smooth_method="icm", max_sweeps=20,
                  estimator=None, foreground=None, point_masses=True, blur=0.0, n_init=1,
                  short_runs=DEFAULT_SHORT_RUNS):
    """Segment an image by a Gaussian mixture on pixel colours, optionally with a Potts prior.

    Parameters
    ----------
    image : array or Picture
        (H, W) gray (uint8, uint16 or float), (H, W, 3) uint8 RGB, (H, W, 4) RGBA
        (alpha 0 masks a pixel out), or a :class:`~gmmkit_apps.segment.images.Picture`
        from :func:`~gmmkit_apps.segment.images.read_image`.
    k : int or 'auto'
        Number of components; 'auto' picks it by ICL over ``k_range`` (see
        :func:`~gmmkit_apps.segment.choose.select_k`).
    features : {'rgb', 'lab', 'hsv', 'gray'}
        Colour space of the features (gray images always use 'gray'). 'rgb' is the default:
        sensor noise is about equal in R, G and B, and CIELAB's non-linearity makes it
        unequal and colour-dependent (measured in docs/segment.md).
    spatial : float
        Weight of the pixel position relative to colour (0 = colour only).
    smooth : float or 'auto'
        Potts strength beta (nats per disagreeing neighbour); 0 = none. 'auto' measures the
        noise against the contrast of a plain fit and picks the method, beta and blur
        (:func:`~gmmkit_apps.segment.choose.auto_smoothing`).
    fit_pixels : int
        Fit on at most this many randomly chosen pixels (the spatial EM uses every pixel).
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
    smooth_method : {'icm', 'meanfield', 'em'}
        How the Potts prior is used: labels smoothed by iterated conditional modes after a
        plain fit (fast), by mean-field (smoothed probabilities too), or 'em': the prior
        inside the fit (:func:`~gmmkit_apps.segment.hmrf.spatial_em`, 8 neighbours), which
        keeps noise from biasing the mixture.
    max_sweeps : int
        At most this many sweeps when smoothing labels (icm, meanfield).
    estimator : class, optional
        Mixture class to use instead of :class:`gmmkit.GaussianMixture`, with the
        same constructor and attributes (e.g. :class:`sklearn.mixture.GaussianMixture`).
    foreground : None, 'auto', 'border', 'bright', 'dark' or list of int
        Also decide which segments are foreground (:func:`~gmmkit_apps.segment.foreground.choose_foreground`)
        and count the connected objects.
    point_masses : bool
        Find spikes of identical values (clipping, saturation, a black border) and leave
        them out of the fit (they are still labelled; reported in ``point_masses``). Off
        for a palette image (Pillow mode P: GIF, 8-bit PNG), with a note.
    blur : float
        Gaussian blur sigma (pixels) applied to the features first (the local average; 0 = none).
    n_init, short_runs : int
        Restarts of the mixture fit, and short EM runs from k-means++ starts in each
        (the best continues); see :class:`gmmkit.GaussianMixture`.

    Returns
    -------
    Segmentation
        Unpacks as ``labels, model``; see :class:`Segmentation`.
    """
    from .choose import auto_smoothing, contrast_to_noise, noise_sd, select_k
    from .labelling import label_pixels
    from .pointmass import clipped_channels, find_point_masses, mark_solid, public, spike_pixels

    t_all = time.perf_counter()
    k, smooth = _check_options(k, features, spatial, smooth, smooth_method, fit_pixels, blur)
    if foreground is not None and k == 1:
        raise ParameterError("a foreground needs at least 2 segments (use -k 2 or more)")
    pic = image if isinstance(image, Picture) else picture_from_array(image, mask=mask)
    H, W = pic.shape
    rng = np.random.default_rng(random_state)
    timings, notes = {}, []
    kind = "gray" if pic.is_gray else features

    t = time.perf_counter()
    X = _features(pic, features, float(spatial), rng)
    active = None if pic.mask is None else pic.mask.ravel()
    if point_masses and getattr(pic, "mode", None) in ("P", "PA"):
        # a palette image (GIF, 8-bit PNG) holds nothing but exact colours: a spike is just a
        # palette entry, not clipping, and leaving them out would leave almost nothing to fit
        point_masses = False
        notes.append("palette image: its pixels take a few exact colours, so point masses are "
                     "not looked for (posterised or dithered colours segment less cleanly)")
    spikes = find_point_masses(pic.pixels, pic.mask) if point_masses else []
    usable, apart, in_spike = active, [], None
    if spikes:
        mark_solid(spikes, pic.pixels, (H, W))
        in_spike = spike_pixels(pic.pixels, spikes)
        usable = ~in_spike if active is None else (~in_spike & active)
        apart = [spike_pixels(pic.pixels, [sp]) for sp in spikes if sp["solid"]]
    fit_rows = None if usable is None else np.flatnonzero(usable)
    n_usable = H * W if fit_rows is None else fit_rows.size
    n_min = 2 if k == "auto" else k
    if n_usable < max(n_min, 2):
        raise DataError(f"only {n_usable} usable pixel(s), fewer than k={n_min}")
    _check_distinct(pic, fit_rows, max(n_min, 2))
    sd = noise_sd(X[:, : X.shape[1] - (2 if spatial > 0 else 0)].reshape(H, W, -1),
                  valid=None if in_spike is None else ~in_spike.reshape(H, W))
    reg_covar = 1e-6
    clipped = clipped_channels(pic.pixels, pic.mask) if point_masses and not pic.is_gray else []
    if clipped:
        # a component can lie flat on a clipped plane (zero variance across it): a covariance
        # floor at (0.45 x the measured noise sd)^2 keeps it from paying off (docs/segment.md)
        reg_covar = max(reg_covar, float((0.45 * np.min(sd)) ** 2))
        where = ", ".join(f"{c['channel']}={c['value']} ({100 * c['share']:.0f}%)" for c in clipped)
        notes.append(f"clipped channel values {where}: covariances floored at {reg_covar:.3g}")
    if blur > 0:
        X = _blurred(X, (H, W), float(blur))
    timings["features"] = time.perf_counter() - t

    t = time.perf_counter()
    k_table = k_reason = None
    if k == "auto":
        Xsel = X[_subsample(fit_rows, n_usable, 50_000, rng)]
        k, k_table, k_reason = select_k(Xsel, k_range=k_range, covariance_type=covariance_type,
                                        random_state=random_state, short_runs=short_runs, reg_covar=reg_covar)
        check_palette_size(k)
    model, Xfit = _fit(X, fit_rows, n_usable, k, rng, estimator=estimator, covariance_type=covariance_type,
                       random_state=random_state, n_init=n_init, short_runs=short_runs, fit_pixels=fit_pixels,
                       reg_covar=reg_covar)
    cnr = contrast_to_noise(np.asarray(model.means_)[:, : len(sd)], sd) if k >= 2 else None
    reason = None
    if smooth == "auto":
        smooth_method, smooth, auto_blur, reason = auto_smoothing(cnr if cnr is not None else np.inf)
        if auto_blur > 0 and blur == 0:
            blur = auto_blur
            X = _blurred(X, (H, W), blur)
            model, Xfit = _fit(X, fit_rows, n_usable, k, rng, estimator=estimator,
                               covariance_type=covariance_type, random_state=random_state, n_init=n_init,
                               short_runs=short_runs, fit_pixels=fit_pixels, reg_covar=reg_covar)
    timings["fit"] = time.perf_counter() - t

    label_mask = pic.mask
    if apart:
        label_mask = ~np.logical_or.reduce(apart).reshape(H, W) & (True if pic.mask is None else pic.mask)
    labels, model, proba, n_sweeps = label_pixels(X, (H, W), label_mask, model, k, float(smooth), smooth_method,
                                            fit_rows, probabilities, max_sweeps, timings)
    for j, where in enumerate(apart):  # point masses modelled apart: segments k, k+1, ...
        labels.ravel()[where & (True if pic.mask is None else pic.mask.ravel())] = k + j
    notes.extend(_point_mass_notes(spikes, k))

    t = time.perf_counter()
    mean_colors, counts = _mean_colours(pic.display, labels, k + len(apart))
    fractions = counts / max(counts.sum(), 1)
    ll = model.score(Xfit)
    bic = model.bic(Xfit)
    seg = Segmentation(labels=labels, model=model, features=kind, spatial=float(spatial), smooth=float(smooth),
                       smooth_method=smooth_method, mean_colors=mean_colors, fractions=fractions,
                       log_likelihood=ll, bic=bic, n_fit_pixels=int(Xfit.shape[0]), n_sweeps=n_sweeps,
                       k_table=k_table, probabilities=proba, timings=timings, picture=pic, k_reason=k_reason,
                       smoothing_reason=reason, noise_sd=[round(float(v), 4) for v in sd],
                       contrast_to_noise=cnr, blur=float(blur), point_masses=public(spikes), notes=notes)
    if foreground is not None:
        from .colour import luma
        from .foreground import choose_foreground, objects

        seg.foreground, seg.foreground_rule = choose_foreground(labels, luma(mean_colors), hint=foreground)
        seg.objects = objects(seg.foreground_mask())
    timings["stats"] = time.perf_counter() - t
    timings["segment_total"] = time.perf_counter() - t_all
    return seg


def _check_distinct(pic, rows, k):
    """Refuse an image whose usable pixels take fewer distinct values than segments: EM would
    re-seed the empty components again and again and the segments would be arbitrary."""
    values = pic.pixels.reshape(pic.shape[0] * pic.shape[1], -1)
    rows = np.arange(values.shape[0]) if rows is None else rows
    sample = rows[np.random.default_rng(0).integers(0, rows.size, min(rows.size, 20_000))]
    if np.unique(values[sample], axis=0).shape[0] >= k:  # the usual case, from a sample
        return
    _, first = np.unique(values[rows], axis=0, return_index=True)
    if first.size >= k:
        return
    shown = pic.display.reshape(-1, 3)[rows[np.sort(first)]]
    shown = ", ".join(str(int(v[0]) if pic.is_gray else v.tolist()) for v in shown[:8])
    what = "gray level" if pic.is_gray else "colour"
    if first.size == 1:
        raise DataError(f"every usable pixel has the same {what} ({shown}): nothing to segment")
    raise DataError(f"the usable pixels take only {first.size} distinct {what}s ({shown}), fewer than "
                    f"the {k} segments asked for (use -k {first.size})")


def _fit(X, fit_rows, n_usable, k, rng, *, estimator, covariance_type, random_state, n_init, short_runs,
         fit_pixels, reg_covar):
    """The plain mixture fitted on a random subsample of the usable rows: (model, subsample)."""
    from gmmkit import GaussianMixture

    Xfit = np.ascontiguousarray(X[_subsample(fit_rows, n_usable, int(fit_pixels), rng)])
    if estimator is None:
        model = GaussianMixture(k, covariance_type=covariance_type, random_state=random_state, max_iter=200,
                                n_init=n_init, short_runs=short_runs, reg_covar=reg_covar)
    else:
        model = estimator(k, covariance_type=covariance_type, random_state=random_state, max_iter=200,
                          n_init=n_init, reg_covar=reg_covar)
    model.fit(Xfit)
    return model, Xfit


def _point_mass_notes(spikes, k):
    """One line per point mass: what it is and what was done with it."""
    out, j = [], k
    for sp in spikes:
        if sp["solid"]:
            what, j = f"a region of one value (a background or border?), modelled apart as segment {j}", j + 1
        else:
            what = "scattered (clipping or saturation?): left out of the fit, labelled by the model"
        out.append(f"point mass: {100 * sp['share']:.1f}% of the pixels have the value {sp['value']}; {what}")
    return out


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
    from .outputs import write_outputs

    return write_outputs(seg, os.fspath(out_dir), stem,
                         extra={"image": os.fspath(path), "mode": pic.mode})
