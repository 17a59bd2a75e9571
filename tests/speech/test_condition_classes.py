"""A condition detector with named classes and a confident-routing margin: its decisions against a
twin written with scipy's normal densities (class mixtures, equal priors, the margin and the
clean floor by hand), the margin chosen on development rows against a brute-force twin, the file
round trip, and files written before classes had names and a margin."""
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

from gmmkit.exceptions import ModelFileError, ParameterError
from gmmkit_apps.speech.condition import (
    CLEAN,
    DETECTOR_KIND,
    STAT_NAMES,
    check_margin,
    choose_margin,
    load_detector,
    save_detector,
    train_detector_classes,
)

CENTRES = {"clean": [40.0, -20.0, -10.0, 0.1], "noise": [12.0, -18.0, -9.0, 0.9], "band": [35.0, -45.0, -50.0, 0.2]}


def _rows(rng, centre, n, spread=1.0):
    return rng.normal(centre, spread * np.array([4.0, 3.0, 3.0, 0.1]), size=(n, 4))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    train = {c: _rows(rng, m, 80) for c, m in CENTRES.items()}
    # test rows between the classes too, so that the margin and the floor decide some of them
    mid = [(np.array(CENTRES["clean"]) * w + np.array(CENTRES[c]) * (1 - w)) for c in ("noise", "band")
           for w in np.linspace(0.2, 0.8, 7)]
    X = np.vstack([_rows(rng, m, 30, 1.5) for m in CENTRES.values()] + [np.array(mid)])
    return train, X


def _twin(det, X, margin, floor=-np.inf):
    """Class per row by hand: each class's diagonal mixture density with scipy, equal priors."""
    names = list(det.classes)
    ll = np.column_stack([logsumexp(np.log(m.weights_)[None, :] + norm.logpdf(
        X[:, None, :], m.means_[None], np.sqrt(m.covariances_)[None]).sum(axis=2), axis=1)
        for m in det.classifier.models_])
    lp = ll - logsumexp(ll, axis=1, keepdims=True)  # equal priors
    out = []
    for i in range(len(X)):
        deg = max((c for c in names if c != "clean"), key=lambda c: lp[i, names.index(c)])
        ratio = lp[i, names.index(deg)] - lp[i, names.index("clean")]
        out.append(deg if ratio > margin or ll[i, names.index("clean")] < floor else "clean")
    return out


def test_margin_rule_matches_twin(data):
    train, X = data
    det = train_detector_classes(train, outlier_quantile=0.0, trained_on={"noise": ["noise10"], "band": ["telephone"]})
    assert det.classes == ("band", "clean", "noise") and det.degraded_classes == ("band", "noise")
    seen = []
    for t in (0.0, 1.0, 4.0):
        det.margin = t
        got = det.detect(X)
        assert got == _twin(det, X, t)
        seen.append(got)
    assert seen[0] != seen[2] and set(seen[0]) == {"clean", "noise", "band"}  # the margin changes decisions
    floored = train_detector_classes(train, outlier_quantile=0.05, margin=2.0)
    assert np.isfinite(floored.clean_floor)
    got = floored.detect(X)
    assert got == _twin(floored, X, 2.0, floored.clean_floor) and got != _twin(floored, X, 2.0)


def test_margin_chosen_on_development_rows_matches_brute_force(data):
    train, _ = data
    rng = np.random.default_rng(5)
    dev = {c: _rows(rng, m, 40, 4.0) for c, m in CENTRES.items()}
    det = train_detector_classes(train, outlier_quantile=0.0)
    grid = tuple(range(21))
    wrong = [sum(int(np.sum(np.array(_twin(det, X, t)) != c)) for c, X in dev.items()) for t in grid]
    best = [t for t, w in zip(grid, wrong) if w == min(wrong)]
    assert choose_margin(det, dev, grid) == (best[len(best) // 2], min(wrong), 120)
    assert len(set(wrong)) > 1 and len(best) > 1 and det.margin == 0.0  # the grid matters, a tie; detector untouched
    with pytest.raises(ParameterError, match="not the detector's"):
        choose_margin(det, {"pink": dev["noise"]})


def test_file_round_trip_and_refusals(data, tmp_path):
    train, X = data
    det = train_detector_classes(train, outlier_quantile=0.05, margin=1.5,
                                 trained_on={"noise": ["noise10", "noise20"], "band": ["telephone"]}, sr=16000)
    save_detector(det, tmp_path / "d.npz")
    back = load_detector(tmp_path / "d.npz")
    assert (back.classes, back.margin, back.sr, back.clean_floor) == (det.classes, 1.5, 16000, det.clean_floor)
    assert back.conditions == {"noise": ["noise10", "noise20"], "band": ["telephone"]}
    assert back.detect(X) == det.detect(X)
    with pytest.raises(ParameterError, match="need 'clean'"):
        train_detector_classes({"noise": train["noise"], "band": train["band"]})
    with pytest.raises(ParameterError, match="condition class"):
        train_detector_classes({"clean": train["clean"], "no ise": train["noise"]})
    for bad in (-1.0, float("nan"), float("inf"), "1"):
        with pytest.raises(ParameterError, match="routing margin"):
            check_margin(bad)


def _old_file(path, det):
    """A detector file as written before classes had names and a margin (two classes, no margin)."""
    from gmmkit.io import save_arrays

    arrays, classes = {}, []
    for c, m in zip(det.classes, det.classifier.models_):
        classes.append({"name": c, "covariance_type": m.covariance_type})
        arrays.update({f"{c}_weights": m.weights_, f"{c}_means": m.means_, f"{c}_covariances": m.covariances_})
    meta = {"kind": DETECTOR_KIND, "sr": 8000, "classes": classes, "stats": list(STAT_NAMES),
            "priors": [0.5, 0.5], "clean_floor": det.clean_floor, "trained_on": ["noise10", "telephone"]}
    save_arrays(path, arrays, meta)
    return meta


def test_two_class_files_of_before_still_load(data, tmp_path):
    train, X = data
    det = train_detector_classes({CLEAN: train["clean"], "degraded": np.vstack([train["noise"], train["band"]])},
                                 outlier_quantile=0.05)
    meta = _old_file(tmp_path / "old.npz", det)
    old = load_detector(tmp_path / "old.npz")
    assert old.margin == 0.0 and old.trained_on == ("noise10", "telephone")
    assert old.conditions == {"degraded": ["noise10", "telephone"]}
    assert old.detect(X) == _twin(old, X, 0.0, det.clean_floor)
    from gmmkit.io import save_arrays

    meta["classes"] = [{"name": "noisy", "covariance_type": "diag"}, {"name": "band", "covariance_type": "diag"}]
    arrays = {f"{c}_{k}": v for c in ("noisy", "band") for k, v in
              (("weights", np.ones(1)), ("means", np.zeros((1, 4))), ("covariances", np.ones((1, 4))))}
    save_arrays(tmp_path / "noclean.npz", arrays, meta)
    with pytest.raises(ModelFileError, match="noclean.npz: unreadable condition detector"):
        load_detector(tmp_path / "noclean.npz")
