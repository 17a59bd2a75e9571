"""GMMHMM: forward-backward, Viterbi and Baum-Welch against a slow NumPy twin
(tests/core/hmm_oracle.py), topologies, priors, errors, files and sklearn conventions.
The hmmlearn / statsmodels oracles are in test_hmm_oracles.py."""
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from gmmkit import GMMHMM
from gmmkit.exceptions import DataError, ModelFileError, ParameterError
from gmmkit.hmm.source import chunk_bounds
from tests.core import hmm_oracle as oracle
from tests.core.hmm_oracle import fit_from, sequences, start_model

COV_TYPES = ["diag", "full", "tied", "spherical"]


def random_model(rng, S, M, D, cov_type, topology="ergodic"):
    """A GMMHMM with random valid parameters (zeros in a left-right chain)."""
    from gmmkit.covariance import covariance_type

    entry = covariance_type(cov_type)
    start = rng.dirichlet(np.ones(S))
    trans = rng.dirichlet(np.ones(S), size=S)
    if topology == "left-right":
        start = np.eye(S)[0]
        trans = np.triu(np.tril(trans + 0.1, 1))
        trans /= trans.sum(axis=1, keepdims=True)
    means = rng.normal(0, 2, (S, M, D))
    full = []
    for _ in range(S * M):
        A = rng.normal(size=(D, D)) * 0.5 + np.eye(D)
        full.append(A @ A.T)
    full = np.array(full).reshape(S, M, D, D)
    cov = {"full": full, "tied": full[:, 0], "diag": np.diagonal(full, axis1=2, axis2=3),
           "spherical": np.diagonal(full, axis1=2, axis2=3).mean(axis=2)}[cov_type]
    assert cov.shape == (S,) + entry.shape(M, D)
    return GMMHMM.from_parameters(start, trans, rng.dirichlet(np.ones(M), size=S), means, cov,
                                  covariance_type=cov_type, topology=topology)


def split(X, lengths):
    ends = np.cumsum(lengths)
    return [X[a:b] for a, b in zip(ends - lengths, ends)]


# ---------------------------------------------------------------- the kernels against the twin
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("M", [1, 3])
def test_forward_backward_matches_numpy_twin(cov_type, M):
    rng = np.random.default_rng(M)
    model = random_model(rng, 3, M, 3, cov_type)
    X, lengths = sequences(rng, D=3)
    ll, post = model.score_samples(X, lengths)
    want_ll, want_post = 0.0, []
    for x in split(X, lengths):
        l, g, _, _ = oracle.forward_backward(model, x)
        want_ll += l
        want_post.append(g)
    assert ll == pytest.approx(want_ll, rel=1e-11)
    np.testing.assert_allclose(post, np.vstack(want_post), atol=1e-10)
    assert model.score(X, lengths) == pytest.approx(want_ll, rel=1e-11)


@pytest.mark.parametrize("topology", ["ergodic", "left-right"])
def test_filtered_probabilities_match_numpy_twin(topology):
    rng = np.random.default_rng(17)
    model = random_model(rng, 3, 2, 2, "full", topology)
    X, lengths = sequences(rng, D=2)
    got = model.filtered_proba(X, lengths)
    np.testing.assert_allclose(got, np.vstack([oracle.filtered(model, x) for x in split(X, lengths)]), atol=1e-10)
    if topology == "ergodic":  # at a sequence's last frame, filtering and smoothing agree
        ends = np.cumsum(lengths) - 1
        np.testing.assert_allclose(got[ends], model.predict_proba(X, lengths)[ends], atol=1e-12)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("topology", ["ergodic", "left-right"])
def test_viterbi_matches_numpy_twin(cov_type, topology):
    rng = np.random.default_rng(7)
    model = random_model(rng, 4, 2, 2, cov_type, topology)
    X, lengths = sequences(rng, D=2, S=4)
    logprob, states = model.decode(X, lengths)
    want = [oracle.viterbi(model, x) for x in split(X, lengths)]
    assert logprob == pytest.approx(sum(w[0] for w in want), rel=1e-11)
    np.testing.assert_array_equal(states, np.concatenate([w[1] for w in want]))
    np.testing.assert_array_equal(model.predict(X, lengths), states)
    if topology == "left-right":  # every path starts in state 0 and ends in the last state
        for path in split(states, lengths):
            assert path[0] == 0 and path[-1] == 3 and np.all(np.diff(path) >= 0)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("M", [1, 2])
def test_one_baum_welch_step_matches_numpy_twin(cov_type, M):
    rng = np.random.default_rng(10 + M)
    X, lengths = sequences(rng, n_seq=8, D=2, lo=40, hi=80)
    model = random_model(rng, 3, M, 2, cov_type)
    want, want_ll = oracle.baum_welch_step(model, X, lengths)
    got = fit_from(model, X, lengths, 1)
    assert got.lower_bounds_[0] * X.shape[0] == pytest.approx(want_ll, rel=1e-12)
    for name, value in want.items():
        np.testing.assert_allclose(getattr(got, name), value, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("S, M, cov_type", [(32, 4, "diag"), (3, 2, "full"), (4, 1, "spherical")])
def test_statistics_match_numpy_twin(S, M, cov_type):
    """The E-pass's sums (K = S M >= 128 takes the engine's matrix-product path for diag)."""
    rng = np.random.default_rng(S)
    model = random_model(rng, S, M, 3, cov_type)
    X, lengths = sequences(rng, n_seq=3, D=3, lo=30, hi=50)
    source, params = model._sequences(X, lengths)
    _, stats, _ = source.forward_backward(params)
    shifted = X - source.shift
    nk, sx, sxx = 0, 0, 0
    start, trans = 0, 0
    for x, xs in zip(split(X, lengths), split(shifted, lengths)):
        _, g, xi, comp = oracle.forward_backward(model, x)
        c = comp.reshape(len(x), S * M)
        start, trans = start + g[0], trans + xi
        nk, sx, sxx = nk + c.sum(0), sx + c.T @ xs, sxx + np.einsum("tk,td,te->kde", c, xs, xs)
    np.testing.assert_allclose(stats.start, start, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats.trans, trans, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats.nk, nk, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats.sx, sx, rtol=1e-9, atol=1e-10)
    got = stats.sxx[:, 0] if stats.sxx.shape[1] == 1 else np.triu(stats.sxx)
    want = np.diagonal(sxx, axis1=1, axis2=2) if stats.sxx.shape[1] == 1 else np.triu(sxx)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


def test_float32_scores_close_to_float64():
    rng = np.random.default_rng(3)
    model = random_model(rng, 3, 2, 4, "full")
    X, lengths = sequences(rng, D=4)
    ll64, post64 = model.score_samples(X, lengths)
    ll32, post32 = model.score_samples(X.astype(np.float32), lengths)
    assert ll32 == pytest.approx(ll64, rel=1e-5)
    np.testing.assert_allclose(post32, post64, atol=1e-3)
    fit = GMMHMM(3, 2, "diag", random_state=0, max_iter=200).fit(X.astype(np.float32), lengths)
    assert np.all(np.isfinite(fit.lower_bounds_)) and np.all(np.diff(fit.lower_bounds_) > -1e-4)


def test_chunks_of_sequences_give_the_same_statistics():
    from gmmkit.hmm.source import Sequences

    rng = np.random.default_rng(4)
    model = random_model(rng, 3, 2, 3, "full")
    X, lengths = sequences(rng, n_seq=12, D=3)
    source, params = model._sequences(X, lengths)
    one = source.forward_backward(params, posteriors=True)
    source.chunks = chunk_bounds(source.starts, 5)
    assert len(source.chunks) == 5
    many = source.forward_backward(params, posteriors=True)
    np.testing.assert_allclose(many[0], one[0], rtol=1e-13)
    np.testing.assert_allclose(many[2], one[2], atol=1e-14)
    for name in ("start", "trans", "nk", "sx", "sxx"):
        np.testing.assert_allclose(getattr(many[1], name), getattr(one[1], name), rtol=1e-12, atol=1e-12)
    assert isinstance(source, Sequences)


def test_chunk_bounds_cover_every_sequence_once():
    starts = np.concatenate([[0], np.cumsum([5, 100, 3, 3, 50, 7])])
    for n in (1, 2, 3, 6, 10):
        b = chunk_bounds(starts, n)
        assert b[0][0] == 0 and b[-1][1] == 6 and all(x[1] == y[0] for x, y in zip(b, b[1:]))
        assert all(lo < hi for lo, hi in b)


# ---------------------------------------------------------------- Baum-Welch
def test_fit_recovers_a_sticky_chain():
    rng = np.random.default_rng(0)
    truth = random_model(rng, 2, 1, 2, "full")
    truth.transmat_ = np.array([[0.95, 0.05], [0.1, 0.9]])
    truth.means_ = np.array([[[-3.0, 0.0]], [[3.0, 1.0]]])
    X, z = truth.sample(4000, random_state=1)
    fit = GMMHMM(2, 1, "full", random_state=0).fit(X)
    order = np.argsort(fit.means_[:, 0, 0])
    np.testing.assert_allclose(fit.transmat_[np.ix_(order, order)], truth.transmat_, atol=0.03)
    assert np.mean(fit.predict(X) == order[z]) > 0.97
    assert fit.converged_ and fit.n_iter_ == len(fit.lower_bounds_)


def test_restarts_keep_the_best_run():
    rng = np.random.default_rng(5)
    X, lengths = sequences(rng, n_seq=6, D=2, S=3)
    final = {}
    best = GMMHMM(3, 2, n_init=4, random_state=0,
                  callback=lambda info: final.__setitem__(info["init"], info["lower_bound"])).fit(X, lengths)
    assert sorted(final) == [0, 1, 2, 3] and len(set(np.round(list(final.values()), 10))) > 1
    assert best.lower_bound_ == max(final.values())
    assert best.score(X, lengths) / len(X) >= max(final.values()) - 1e-3  # + the last M-step


def test_fixed_parameters_stay_fixed():
    rng = np.random.default_rng(6)
    X, lengths = sequences(rng, n_seq=8, lo=40, hi=60)
    model = start_model(X, lengths, 3, 2, "diag")
    got = fit_from(model, X, lengths, 3, params="tw")
    np.testing.assert_array_equal(got.startprob_, model.startprob_)
    np.testing.assert_allclose(got.means_, model.means_, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(got.covariances_, model.covariances_)
    assert not np.allclose(got.transmat_, model.transmat_)
    with pytest.raises(ParameterError, match="needs updating means"):
        GMMHMM(params="stc").fit(X, lengths)


def test_dirichlet_priors_as_hmmlearn_rule():
    rng = np.random.default_rng(8)
    X, lengths = sequences(rng, n_seq=6)
    model = random_model(rng, 3, 1, 2, "diag")
    S = 3
    prior_t = 1.0 + rng.uniform(0, 5, (S, S))
    got = fit_from(model, X, lengths, 1, startprob_prior=3.0, transmat_prior=prior_t)
    start, trans = np.zeros(S), np.zeros((S, S))
    for x in split(X, lengths):
        _, g, xi, _ = oracle.forward_backward(model, x)
        start += g[0]
        trans += xi
    np.testing.assert_allclose(got.startprob_, (start + 2.0) / (start + 2.0).sum(), rtol=1e-10)
    t = trans + prior_t - 1
    np.testing.assert_allclose(got.transmat_, t / t.sum(axis=1, keepdims=True), rtol=1e-10)


def test_left_right_zeros_stay_zero_and_short_sequences_fail():
    rng = np.random.default_rng(9)
    X, lengths = sequences(rng, n_seq=6, lo=20, hi=30)
    fit = GMMHMM(4, 2, topology="left-right", transmat_prior=2.0, random_state=0).fit(X, lengths)
    assert np.all(fit.transmat_[np.tril_indices(4, -1)] == 0)
    assert np.all(fit.transmat_[np.triu_indices(4, 2)] == 0)
    assert fit.startprob_.tolist() == [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(DataError, match="sequence 1 has 3 frames, fewer than the 4"):
        fit.score(X[:8], [5, 3])
    with pytest.raises(DataError, match="fewer than the 4"):
        GMMHMM(4, topology="left-right").fit(X[:12], [10, 2])


@pytest.mark.parametrize("lengths, match", [
    ([10, 10], "add up to 20 rows but X has 30"),
    ([10, 0, 20], "sequence 1 is empty"),
    ([40, -10], "sequence 1 is empty"),
    ([10.5, 19.5], "must be integers"),
    ([[10, 20]], "1-D"),
    ([], "non-empty"),
])
def test_bad_lengths_are_one_line_data_errors(lengths, match):
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(DataError, match=match) as err:
        GMMHMM(2, random_state=0).fit(X, lengths)
    assert "\n" not in str(err.value)


def test_empty_and_bad_input():
    with pytest.raises(DataError):
        GMMHMM(2).fit(np.empty((0, 2)))
    with pytest.raises(DataError, match="fewer than n_components"):
        GMMHMM(3, 2).fit(np.zeros((4, 1)))
    with pytest.raises(DataError):
        GMMHMM(2).fit(np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ParameterError, match="transmat"):
        GMMHMM(2, transmat_init=[[1.0, 0.5], [0.5, 0.5]]).fit(np.arange(10.0)[:, None])


# ---------------------------------------------------------------- sample, files, conventions
def test_sample_follows_the_chain_and_the_emissions():
    rng = np.random.default_rng(11)
    model = random_model(rng, 2, 2, 2, "diag")
    X, z = model.sample(40000, random_state=0)
    flips = np.zeros((2, 2))
    np.add.at(flips, (z[:-1], z[1:]), 1)
    np.testing.assert_allclose(flips / flips.sum(1, keepdims=True), model.transmat_, atol=0.02)
    for s in range(2):
        mean = model.weights_[s] @ model.means_[s]
        np.testing.assert_allclose(X[z == s].mean(axis=0), mean, atol=0.08)
        var = model.weights_[s] @ (model.covariances_[s] + model.means_[s] ** 2) - mean ** 2
        np.testing.assert_allclose(X[z == s].var(axis=0), var, rtol=0.06)


def test_model_file_round_trip(tmp_path):
    rng = np.random.default_rng(12)
    X, lengths = sequences(rng)
    fit = GMMHMM(3, 2, "full", topology="left-right", random_state=0).fit(X, lengths)
    path = tmp_path / "m.hmm"
    fit.save(path)
    back = GMMHMM.load(path)
    assert back.score(X, lengths) == pytest.approx(fit.score(X, lengths), rel=1e-14)
    np.testing.assert_array_equal(back.lower_bounds_, fit.lower_bounds_)
    assert back.get_params() == fit.get_params()
    np.load(path, allow_pickle=False).close()  # no pickled object inside
    from gmmkit import GaussianMixture

    GaussianMixture(1).fit(X).save(tmp_path / "g.gmm")
    with pytest.raises(ModelFileError, match="expected a 'GMMHMM'"):
        GMMHMM.load(tmp_path / "g.gmm")


def test_sklearn_conventions():
    est = GMMHMM(3, 2, "tied", random_state=0, max_iter=4)
    params = est.get_params()
    X, lengths = sequences(np.random.default_rng(13))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, lengths)
    assert est.get_params() == params
    assert clone(est).get_params() == params and not hasattr(clone(est), "means_")
    assert est.covars_.shape == (3, 2, 2) and est.means_.shape == (3, 2, 2)
    assert est.n_features_in_ == 2 and est.n_parameters() == 2 + 6 + 3 * (3 + 4 + 1)
    assert est.bic(X, lengths) == pytest.approx(-2 * est.score(X, lengths) + est.n_parameters() * np.log(len(X)))
    with pytest.raises(ParameterError, match="n_components"):
        GMMHMM(0).fit(X)
