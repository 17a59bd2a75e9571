"""mclust's 14 covariance models (EII ... VVV) against mclust itself and the textbook.

The oracle is ``tests/data/mclust_models.json`` (made by ``tests/data/make_mclust_models.py``
with R and mclust 6.0.0): from mclust's own initial responsibilities, the log-likelihood
after 1, 2, 3, 5, 10 and 20 EM iterations and the parameters after 20, for every model on
five real data sets, plain, with a noise component and with the conjugate prior. EM is run
here through gmmkit's internals exactly as mclust's ``me(data, modelName, z)`` runs it:
M-step from z, then E-step, M-step, ...
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import gmmkit
from gmmkit import GaussianMixture
from gmmkit._covariance import MCLUST_MODELS, covariance_type, n_parameters
from gmmkit._em.init import partition_statistics
from gmmkit._em.mstep import m_step
from gmmkit._em.noise import NoiseRegion
from gmmkit._em.prior import ConjugatePrior
from gmmkit._em.problem import Problem
from gmmkit._em.sources import DenseRows, PatternRows
from gmmkit.exceptions import DataError, DegenerateComponentWarning, ParameterError

ROOT = Path(__file__).resolve().parents[2]
ORACLE = json.loads((ROOT / "tests" / "data" / "mclust_models.json").read_text())
MODELS = list(MCLUST_MODELS)
DATASETS = list(ORACLE["datasets"])
ITERS = np.array(ORACLE["iters"])


def _data(name):
    ds = ORACLE["datasets"][name]
    X = pd.read_csv(ROOT / ds["file"])[ds["columns"]].to_numpy(np.float64)
    z = np.eye(ORACLE["groups"])[ds["labels"]]
    return X, z, ds


def mclust_me(X, model, z, n_iter, *, vinv=None, prior=False, sw=None):
    """mclust's ``me``: M-step from responsibilities z (N, K[+1 noise]), then n_iter E- and
    M-steps; returns the log-likelihood after each E-step and the parameters it was of.
    ``sw``: frequency weights of the rows."""
    N, D = X.shape
    K = ORACLE["groups"]
    sw = np.empty(0) if sw is None else np.asarray(sw, dtype=np.float64)
    noise = NoiseRegion.from_bounds(np.vstack([X.min(0), X.max(0)]), 1.0 / vinv) if vinv else None
    shift = np.average(X, axis=0, weights=sw if sw.size else None)
    problem = Problem(covariance_type(model), K, D, shift, float(sw.sum() if sw.size else N), 0.0, X, sw, noise)
    if prior:
        problem.prior = ConjugatePrior.from_option("conjugate", D, K, lambda: np.cov(X, rowvar=False))
    stats = partition_statistics(problem, z[:, :K], None, sw if sw.size else None)
    if noise is not None:
        stats.nk[K] = z[:, K].sum()
    rng = np.random.RandomState(0)
    params = m_step(problem, stats, rng)
    source = DenseRows(problem, X, sw)
    lls = []
    for _ in range(n_iter):
        ll, stats = source.e_pass(params)
        lls.append(ll)
        used, params = params, m_step(problem, stats, rng)
    used.means = used.means + problem.shift
    return np.array(lls), used, problem


def _check_against_mclust(X, model, z, run, D, **kw):
    lls, params, problem = mclust_me(X, model, z, ITERS.max(), **kw)
    ref = np.array([run["loglik"][str(i)] for i in ITERS], dtype=float)
    ok = np.isfinite(ref)
    np.testing.assert_allclose(lls[ITERS - 1][ok], ref[ok], rtol=1e-8)
    if "pro" not in run:  # mclust stopped (a shape fell below sqrt(eps)) before the last count
        return
    K = ORACLE["groups"]
    entry = problem.entry
    np.testing.assert_allclose(np.r_[params.weights, params.noise_weight][: len(run["pro"])], run["pro"], rtol=1e-6)
    np.testing.assert_allclose(params.means, np.reshape(run["mean"], (K, D)), rtol=1e-6, atol=1e-8)
    sigma = np.reshape(run["sigma"], (K, D, D)).transpose(0, 2, 1)  # R's column-major p x p x G
    scale = np.abs(sigma).max()
    np.testing.assert_allclose(entry.full(params.covariances, K, D), sigma, rtol=1e-6, atol=1e-9 * scale)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_em_equals_mclust(dataset, model):
    X, z, ds = _data(dataset)
    _check_against_mclust(X, model, z, ds["runs"]["ml"][model], X.shape[1])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_noise_component_equals_mclust(dataset, model):
    X, z, ds = _data(dataset)
    run = ds["runs"]["noise"][model]
    zn = np.hstack([z, np.zeros((len(X), 1))])
    zn[ds["noise_rows"]] = np.eye(zn.shape[1])[-1]
    _check_against_mclust(X, model, zn, run, X.shape[1], vinv=ds["vinv"])


PRIOR_DONE = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV"]  # me + priorControl()


@pytest.mark.parametrize("model", PRIOR_DONE)
@pytest.mark.parametrize("dataset", DATASETS)
def test_conjugate_prior_equals_mclust(dataset, model):
    X, z, ds = _data(dataset)
    _check_against_mclust(X, model, z, ds["runs"]["prior"][model], X.shape[1], prior=True)


@pytest.mark.parametrize("model", ["VEE", "EVE", "VVE", "EVV"])
def test_prior_refused_in_one_line_where_mclust_has_none(model):
    X, z, _ = _data("iris")
    with pytest.raises(ParameterError, match=model) as info:
        mclust_me(X, model, z, 1, prior=True)
    assert "\n" not in str(info.value)
    with pytest.raises(ParameterError, match=model):
        GaussianMixture(3, covariance_type=model, prior="conjugate").fit(X)


@pytest.mark.parametrize("dataset", DATASETS)
def test_parameter_counts_are_mclust_s(dataset):
    ds = ORACLE["datasets"][dataset]
    D, K = len(ds["columns"]), ORACLE["groups"]
    ours = {m: n_parameters(m, K, D) for m in MODELS}
    assert ours == ds["n_parameters"]


def test_scikit_learn_names_are_aliases():
    for sk, mc in (("full", "VVV"), ("tied", "EEE"), ("diag", "VVI"), ("spherical", "VII")):
        assert covariance_type(sk) is covariance_type(mc)
    with pytest.raises(ParameterError, match="VEV"):
        covariance_type("VXV")


# ---------------------------------------------------------------- textbook checks per model
def _structured(model, seed=0):
    """A fitted 3-component mixture of ``model`` on iris (reg_covar=0), as from_parameters builds it."""
    X, z, _ = _data("iris")
    _, params, _ = mclust_me(X, model, z, 5)
    return GaussianMixture.from_parameters(params.weights, params.means, params.covariances,
                              covariance_type=model, random_state=seed), X


@pytest.mark.parametrize("model", MODELS)
def test_score_samples_and_sample_moments(model):
    gm, X = _structured(model)
    K, D = gm.means_.shape
    entry = covariance_type(model)
    full = entry.full(gm.covariances_, K, D)
    ref = logsumexp([np.log(w) + multivariate_normal(m, c).logpdf(X)
                     for w, m, c in zip(gm.weights_, gm.means_, full)], axis=0)
    np.testing.assert_allclose(gm.score_samples(X), ref, rtol=1e-10)
    Xs, y = gm.sample(60000)
    for k in range(K):
        rows = Xs[y == k]
        se = np.sqrt(np.diag(full[k]) / len(rows))
        assert np.all(np.abs(rows.mean(axis=0) - gm.means_[k]) < 5 * se)
        np.testing.assert_allclose(np.cov(rows, rowvar=False), full[k], atol=0.06 * np.abs(full[k]).max())


@pytest.mark.parametrize("model", MODELS)
def test_model_file_round_trip(model, tmp_path):
    gm, X = _structured(model)
    gm.save(tmp_path / "m.gmm")
    back = gmmkit.load(tmp_path / "m.gmm")
    np.testing.assert_array_equal(back.score_samples(X), gm.score_samples(X))
    assert covariance_type(back.covariance_type) is covariance_type(model)


def _tampered(model, cov):
    """The covariances with component 1 moved off what its E letters keep equal: scaled
    (volume), stretched along one axis (shape) or turned (orientation)."""
    cov = np.array(cov, dtype=np.float64)
    volume, shape, orientation = model
    D = cov.shape[-1] if cov.ndim == 3 else (cov.shape[1] if cov.ndim == 2 else 2)
    if orientation == "E":
        a = 0.2
        R = np.eye(D)
        R[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
        cov[1] = R @ cov[1] @ R.T
    elif shape == "E" and cov.ndim >= 2:
        cov[1, ..., 0] *= 1.2  # (a matrix: its first column and, symmetrically, its first row)
        if cov.ndim == 3:
            cov[1, 0, :] *= 1.2
    else:
        cov[1] *= 1.2  # volume
    return cov


@pytest.mark.parametrize("model", [m for m in MODELS if "E" in m and m != "EEE"])
def test_equal_parts_checked_on_load(model, tmp_path):
    """Stored copies of what an E-model keeps equal must agree: from_parameters and load
    refuse them in one line naming the model; a fitted model's own file loads."""
    gm, X = _structured(model)
    gm.save(tmp_path / "ok.gmm")
    gmmkit.load(tmp_path / "ok.gmm")
    entry, (K, D) = covariance_type(model), gm.means_.shape
    # re-seeding one component keeps what the model keeps equal
    entry.check_structure(entry.reseed(gm.covariances_, 1, np.cov(X, rowvar=False)), K, D)
    bad = _tampered(model, gm.covariances_)
    with pytest.raises(ParameterError, match=f"covariance_type='{model}'.*component") as exc:
        GaussianMixture.from_parameters(gm.weights_, gm.means_, bad, covariance_type=model)
    assert "\n" not in str(exc.value)
    gm._set_parameters(gm.weights_, gm.means_, bad, entry.precision_cholesky(bad))
    gm.save(tmp_path / "bad.gmm")
    with pytest.raises(Exception, match=model):
        gmmkit.load(tmp_path / "bad.gmm")


# mclust's VVE M-step (its MM variant leaves the volumes out of the orientation update) is
# not the exact maximiser: mclust's own EM goes down on iris (by 0.05 from hc's start);
# gmmkit follows mclust there, so VVE is held to mclust's numbers only.
MONOTONE = [m for m in MODELS if m != "VVE"]


@pytest.mark.parametrize("model", MONOTONE)
def test_em_never_decreases_the_likelihood(model):
    """Each M-step maximises the expected complete log-likelihood over the model's
    constraint set, so EM's log-likelihood cannot go down (a wrong M-step breaks this)."""
    X, z, _ = _data("banknote")
    lls, _, _ = mclust_me(X, model, 0.6 * z + 0.4 / 3, 40)
    assert np.all(np.diff(lls) > -1e-9 * np.abs(lls[:-1]))


@pytest.mark.parametrize("model", MODELS)
def test_missing_values_marginal_likelihood(model):
    """With NaN, the E-step's log-likelihood is each row's density over its observed
    columns (the textbook marginal); EM on such data still never goes down."""
    gm, X = _structured(model)
    rng = np.random.default_rng(3)
    Xn = X.copy()
    Xn[rng.random(X.shape) < 0.15] = np.nan
    Xn[np.isnan(Xn).all(axis=1), 0] = X[np.isnan(Xn).all(axis=1), 0]
    K, D = gm.means_.shape
    entry = covariance_type(model)
    full = entry.full(gm.covariances_, K, D)
    ref = 0.0
    for x in Xn:
        o = ~np.isnan(x)
        ref += logsumexp([np.log(w) + multivariate_normal(m[o], c[np.ix_(o, o)]).logpdf(x[o])
                          for w, m, c in zip(gm.weights_, gm.means_, full)])
    problem = Problem(entry, K, D, np.zeros(D), float(len(X)), 0.0, X, np.empty(0))
    source = PatternRows(problem, Xn, np.empty(0))
    params = m_step(problem, partition_statistics(problem, None, np.argmax(gm.predict_proba(X), 1), None),
                    np.random.RandomState(0), initial=True)
    params.weights, params.means = gm.weights_.copy(), gm.means_.copy()
    params.covariances, params.prec_chol = gm.covariances_.copy(), gm.precisions_cholesky_.copy()
    ll, _ = source.e_pass(params)
    np.testing.assert_allclose(ll, ref, rtol=1e-10)
    lls = []
    for _ in range(15):
        ll, stats = source.e_pass(params)
        lls.append(ll)
        params = m_step(problem, stats, np.random.RandomState(0))
    if model in MONOTONE:
        assert np.all(np.diff(lls) > -1e-9 * np.abs(lls[:-1]))


@pytest.mark.parametrize("model", MODELS)
def test_integer_weights_equal_repeated_rows(model):
    X, z, _ = _data("faithful")
    w = np.random.default_rng(1).integers(1, 4, size=len(X))
    a, pa, _ = mclust_me(X, model, z, 10, sw=w)
    b, pb, _ = mclust_me(np.repeat(X, w, axis=0), model, np.repeat(z, w, axis=0), 10)
    np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(pa.covariances, pb.covariances, rtol=1e-7)


@pytest.mark.parametrize("model", MODELS)
def test_estimator_fits_every_model_with_noise_and_nan(model):
    X, _, _ = _data("diabetes")
    Xn = X.copy()
    Xn[::17, 1] = np.nan
    gm = GaussianMixture(3, covariance_type=model, noise=True, random_state=0, max_iter=500).fit(Xn)
    assert gm.noise_weight_ > 0 and np.isfinite(gm.lower_bound_)
    assert gm.covariances_.shape == covariance_type(model).shape(3, X.shape[1])
    assert gm.predict(Xn).shape == (len(X),)


@pytest.mark.parametrize("model", MODELS)
def test_degenerate_data_one_line_error_naming_the_model(model):
    """A constant column: reg_covar (added to every component's scatter / n_k before the
    model's estimate) keeps each model estimable; without it, a one-line error names the model."""
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(60, 2)), np.ones(60)]
    gm = GaussianMixture(2, covariance_type=model, random_state=0, max_iter=200).fit(X)
    assert np.isfinite(gm.score_samples(X)).all()
    if model in ("EII", "VII"):  # one variance over all coordinates: never singular here
        return
    with pytest.raises(DataError, match=repr(covariance_type(model).name)) as info, \
            pytest.warns(DegenerateComponentWarning):
        GaussianMixture(2, covariance_type=model, random_state=0, reg_covar=0.0).fit(X)
    assert "\n" not in str(info.value)
