"""NaiveForecaster and WindowRidgeForecaster against hand-made references."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import Ridge

from sklearn_multigran.datasets import make_seasonal_series
from sklearn_multigran.forecasting import NaiveForecaster, WindowRidgeForecaster


def _series(n, freq="h", seed=0, missing=()):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=n, freq=freq)
    t = np.arange(n)
    values = 5 + np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, n)
    values[list(missing)] = np.nan
    return pd.Series(values, index=index, name="y")


def _last_observed(values, t):
    """The last non-NaN value at or before row t (naive loop)."""
    for s in range(t, -1, -1):
        if not np.isnan(values[s]):
            return values[s]
    return np.nan


# --------------------------------------------------------------------------------------
# NaiveForecaster
# --------------------------------------------------------------------------------------


def test_repeat_last_by_hand():
    series = _series(60, missing=(20, 21, 40))
    out = NaiveForecaster(3).fit(series).predict(series, origins="all")
    values = series.to_numpy()
    expected = []
    for t in range(60):
        last = _last_observed(values, t)
        expected += [last] * 3
    np.testing.assert_allclose(out["prediction"], expected, rtol=1e-12)


@pytest.mark.parametrize(("season", "horizon"), [(24, 5), (5, 12)])
def test_seasonal_naive_by_hand(season, horizon):
    series = _series(80, missing=(30, 55))
    model = NaiveForecaster(horizon, strategy="seasonal", season=season).fit(series)
    out = model.predict(series, origins="all")
    values = series.to_numpy()
    expected = []
    for t in range(80):
        for h in range(1, horizon + 1):
            back = t + h - season * math.ceil(h / season)
            # before the first season the forecast is the series' mean
            expected.append(
                _last_observed(values, back) if back >= 0 else np.nanmean(values)
            )
    np.testing.assert_allclose(out["prediction"], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("freq", "season"), [("h", 24), ("10min", 144), ("D", 7), ("MS", 12), ("QS", 4)]
)
def test_auto_season_from_the_grid(freq, season):
    series = _series(60, freq=freq)
    model = NaiveForecaster(2, strategy="seasonal").fit(series)
    assert model.season_ == season


def test_naive_panel_equals_per_series_fits():
    frame = make_seasonal_series(24 * 10, freq="h", n_series=3, random_state=0)
    frame = frame.sample(frac=1.0, random_state=0)
    params = dict(time_column="time", group_column="series", target="load")
    for strategy in ("last", "seasonal"):
        model = NaiveForecaster(4, strategy=strategy, **params).fit(frame)
        panel = model.predict(frame, origins="all")
        for key, own in frame.groupby("series"):
            single = own.set_index("time")["load"].sort_index()
            alone = NaiveForecaster(4, strategy=strategy).fit(single)
            expected = alone.predict(single, origins="all")
            got = panel[panel["series"] == key].drop(columns="series")
            pd.testing.assert_frame_equal(got.reset_index(drop=True), expected)


# --------------------------------------------------------------------------------------
# WindowRidgeForecaster
# --------------------------------------------------------------------------------------


def _window_matrix(x, lookback, horizon):
    """NLinear's design by hand: windows and targets, both minus the last value."""
    rows, targets, origins = [], [], []
    for t in range(lookback - 1, len(x) - horizon):
        window = x[t - lookback + 1 : t + 1]
        rows.append(window - window[-1])
        targets.append(x[t + 1 : t + horizon + 1] - window[-1])
        origins.append(t)
    return np.array(rows), np.array(targets), np.array(origins)


def test_window_ridge_equals_sklearn_ridge_on_the_window_matrix():
    series = _series(300, seed=1)
    x = series.to_numpy()
    mean, std = x.mean(), x.std()
    z = (x - mean) / std
    lookback, horizon, alpha = 30, 4, 3.0
    model = WindowRidgeForecaster(
        horizon, lookback=lookback, alphas=alpha, calibration_size=0
    ).fit(series)
    X, Y, _ = _window_matrix(z, lookback, horizon)
    ridge = Ridge(alpha=alpha).fit(X, Y)
    np.testing.assert_allclose(model.ridge_.coef_, ridge.coef_, rtol=1e-8)

    origins = series.index[[40, 150, 299]]
    out = model.predict(series, origins=origins)
    expected = []
    for t in (40, 150, 299):
        window = z[t - lookback + 1 : t + 1]
        step = ridge.predict((window - window[-1])[None])[0] + window[-1]
        expected.append(step * std + mean)
    np.testing.assert_allclose(out["prediction"], np.ravel(expected), rtol=1e-10)


def test_alpha_is_chosen_by_ridge_holdout_error_then_refit_on_all():
    series = _series(400, seed=2)
    z = (series.to_numpy() - series.mean()) / series.std(ddof=0)
    lookback, horizon = 24, 3
    alphas = [0.01, 1.0, 30.0, 1000.0]
    model = WindowRidgeForecaster(
        horizon, lookback=lookback, alphas=alphas, calibration_size=0
    ).fit(series)
    X, Y, origins = _window_matrix(z, lookback, horizon)
    span = origins[-1] - origins[0] + 1
    cut = origins[-1] - round(0.2 * span) + 1
    train, val = origins + horizon <= cut, origins >= cut
    scores = [
        np.mean((Ridge(alpha=a).fit(X[train], Y[train]).predict(X[val]) - Y[val]) ** 2)
        for a in alphas
    ]
    np.testing.assert_allclose(model.validation_scores_, scores, rtol=1e-7)
    assert model.alpha_ == alphas[int(np.argmin(scores))]
    refit = Ridge(alpha=model.alpha_).fit(X, Y)
    np.testing.assert_allclose(model.ridge_.coef_, refit.coef_, rtol=1e-8)


def test_window_ridge_panel_is_one_model_on_the_scaled_series():
    frame = make_seasonal_series(24 * 12, freq="h", n_series=2, random_state=0)
    frame.loc[frame["series"] == "s1", "load"] *= 50.0
    lookback, horizon = 24, 2
    model = WindowRidgeForecaster(
        horizon,
        lookback=lookback,
        alphas=1.0,
        time_column="time",
        group_column="series",
        target="load",
        calibration_size=0,
    ).fit(frame)
    blocks = []
    for _, own in frame.groupby("series", sort=False):
        x = own["load"].to_numpy()
        blocks.append(_window_matrix((x - x.mean()) / x.std(), lookback, horizon))
    X = np.concatenate([b[0] for b in blocks])
    Y = np.concatenate([b[1] for b in blocks])
    np.testing.assert_allclose(
        model.ridge_.coef_, Ridge(alpha=1.0).fit(X, Y).coef_, rtol=1e-8
    )


@pytest.mark.parametrize(
    ("freq", "n", "lookback"),
    [
        ("h", 1000, 168),
        ("10min", 3000, 1008),
        ("15min", 2000, 672),
        ("h", 200, 99),
        ("D", 400, 24),
        ("MS", 100, 24),
    ],
)
def test_auto_lookback(freq, n, lookback):
    series = _series(n, freq=freq)
    model = WindowRidgeForecaster(2, alphas=1.0, calibration_size=0).fit(series)
    assert model.lookback_ == lookback


# --------------------------------------------------------------------------------------
# Properties shared by both
# --------------------------------------------------------------------------------------


_MODELS = [
    NaiveForecaster(3),
    NaiveForecaster(5, strategy="seasonal", season=4),
    WindowRidgeForecaster(3, lookback=12, alphas=[0.1, 10.0]),
]


@settings(deadline=None, max_examples=25)
@given(
    model=st.sampled_from(_MODELS),
    origin=st.integers(0, 79),
    seed=st.integers(0, 2**16),
)
def test_values_after_an_origin_change_no_forecast_from_it(model, origin, seed):
    series = _series(80, seed=1, missing=(10, 47))
    fitted = clone(model).fit(series)
    rng = np.random.default_rng(seed)
    changed = series.copy()
    changed.iloc[origin + 1 :] = rng.normal(100, 50, len(series) - origin - 1)
    at = [series.index[origin]]
    pd.testing.assert_frame_equal(
        fitted.predict(series, origins=at), fitted.predict(changed, origins=at)
    )


@pytest.mark.parametrize(
    "model",
    [
        NaiveForecaster(6, strategy="seasonal", season=24),
        WindowRidgeForecaster(6, lookback=48),
    ],
)
@pytest.mark.parametrize("coverage", [0.8, 0.9])
def test_intervals_cover_at_the_nominal_rate(model, coverage):
    # a daily cycle plus independent Gaussian noise: the residuals of both models
    # are stationary, so split conformal intervals cover at about the nominal rate
    rng = np.random.default_rng(0)
    n = 24 * 400
    t = np.arange(n)
    values = 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1.0, n)
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    series = pd.Series(values, index=index)
    train = series.iloc[: 24 * 200]
    fitted = clone(model).fit(train)
    origins = series.index[24 * 200 : n - 6 : 3]
    out = fitted.predict_interval(series, origins=origins, coverage=coverage)
    truth = series.reindex(out["time"]).to_numpy()
    inside = (out["lower"].to_numpy() <= truth) & (truth <= out["upper"].to_numpy())
    assert abs(inside.mean() - coverage) < 0.03


def test_baseline_errors():
    series = _series(100)
    with pytest.raises(ValueError, match=r"lookback=90 and horizon=20 leave 0"):
        WindowRidgeForecaster(20, lookback=90, alphas=1.0).fit(series)
    odd = pd.Series(
        np.arange(40.0), index=pd.date_range("2024", periods=40, freq="11min")
    )
    with pytest.raises(ValueError, match=r"season='auto' found no cycle"):
        NaiveForecaster(2, strategy="seasonal").fit(odd)
    with pytest.raises(ValueError, match=r"'strategy' parameter of NaiveForecaster"):
        NaiveForecaster(2, strategy="mean").fit(series)
