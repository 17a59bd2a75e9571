"""Labelling every pixel once the mixture is fitted: arg-max, Potts-smoothed labels (ICM,
mean-field) or the spatial EM, which refits the mixture with the Potts prior inside."""
from __future__ import annotations

import time

import numpy as np


def label_pixels(X, shape, mask, model, k, smooth, smooth_method, fit_rows, probabilities, max_sweeps, timings):
    """Labels of every pixel: arg-max, Potts-smoothed (ICM, mean-field) or by the spatial EM
    (pixels outside ``mask`` get -1)."""
    from .hmrf import spatial_em
    from .mrf import argmax_labels, component_logp, potts_icm, potts_meanfield, softmax_maps

    H, W = shape
    t = time.perf_counter()
    n_sweeps, proba = 0, None
    m = None if mask is None else mask.ravel()
    if smooth > 0 and smooth_method == "em":
        res = spatial_em(X, (H, W), model, beta=smooth, mask=mask, fit_rows=fit_rows, neighbours=8)
        timings["smooth"] = time.perf_counter() - t
        labels, model, n_sweeps = res.labels, res.model, res.n_iter
        if probabilities:
            proba = np.ascontiguousarray(np.moveaxis(res.q, 2, 0))
        return labels, model, proba, n_sweeps
    logp = component_logp(model, X)
    timings["label"] = time.perf_counter() - t
    t = time.perf_counter()
    if smooth == 0:
        labels = argmax_labels(logp, m).reshape(H, W)
        q = softmax_maps(logp, m) if probabilities else None
    elif smooth_method == "icm":
        labels, n_sweeps = potts_icm(logp.reshape(H, W, k), smooth, mask=mask, max_sweeps=max_sweeps)
        q = softmax_maps(logp, m) if probabilities else None
    else:
        labels, q, n_sweeps = potts_meanfield(logp.reshape(H, W, k), smooth, mask=mask,
                                              max_sweeps=max_sweeps)
    timings["smooth"] = time.perf_counter() - t
    if probabilities:
        proba = np.ascontiguousarray(np.moveaxis(q.reshape(H, W, k), 2, 0))
    return labels, model, proba, n_sweeps
