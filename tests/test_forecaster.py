"""MultiGranularityForecaster against hand-assembled references and properties."""

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from sklearn_multigran import (
    CalendarFeatures,
    GranularityTransformer,
    MultiGranularityForecaster,
)
from sklearn_multigran.forecasting._forecaster import _Holdout

H = 6


def _hourly(n, seed=0, noise=0.3, phi=0.8):
    """Daily and weekly cycles plus AR(1) noise, on an hourly grid."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    ar = np.zeros(n)
    shocks = rng.normal(0, noise, n)
    for i in range(1, n):
        ar[i] = phi * ar[i - 1] + shocks[i]
    values = 10 + np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 168) + ar
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.Series(values, index=index, name="y")


@pytest.fixture(scope="module")
def series():
    return _hourly(24 * 7 * 6)


@pytest.fixture(scope="module")
def fitted(series):
    return MultiGranularityForecaster(H).fit(series)


# --------------------------------------------------------------------------------------
# The same model assembled by hand from the public estimators
# --------------------------------------------------------------------------------------


def _by_hand(series, lookback, families, alpha, origins):
    """Scaled features of the documented families, Ridge on standardised columns."""
    values = series.to_numpy()
    mean, std = values.mean(), values.std()
    z = ((values - mean) / std)[:, None]
    n = len(z)

    def features(rows):
        last = z[rows, 0][:, None]
        window = GranularityTransformer(
            [1], stats=["mean"], lags=list(range(lookback)), closed="right"
        ).fit_transform(z)[rows]
        parts = [np.nan_to_num(window[:, 1:] - last, nan=0.0)]
        if "stats" in families:
            for g, lags in ((4, range(6)), (24, range(7))):
                block = GranularityTransformer(
                    [g],
                    stats=["mean", "std", "min", "max"],
                    lags=list(lags),
                    closed="right",
                ).fit_transform(z)[rows]
                k = len(lags)
                for s in range(4):
                    part = block[:, s * k : (s + 1) * k]
                    part = part if s == 1 else part - last
                    parts.append(np.nan_to_num(part, nan=0.0))
        if "calendar" in families:
            terms = CalendarFeatures(periods=("1D", "7D"), n_terms=3).fit_transform(
                pd.DataFrame(index=series.index[rows])
            )
            parts += [terms, terms * last]
        return np.hstack(parts), last

    train = np.arange(lookback - 1, n - H)
    X, last = features(train)
    Y = np.column_stack([z[train + h, 0] for h in range(1, H + 1)]) - last
    scaler = StandardScaler().fit(X)
    ridge = Ridge(alpha=alpha).fit(scaler.transform(X), Y)
    X_new, last_new = features(origins)
    return (ridge.predict(scaler.transform(X_new)) + last_new) * std + mean


@pytest.mark.parametrize("families", [[], ["stats", "calendar"]])
def test_predictions_equal_the_pipeline_assembled_by_hand(series, families):
    model = MultiGranularityForecaster(
        H,
        lookback=48,
        families=families,
        alpha=50.0,
        target_rank=None,
        calibration_size=0,
    ).fit(series)
    origins = np.arange(400, len(series), 37)
    out = model.predict(series, origins=series.index[origins])
    expected = _by_hand(series, 48, families, 50.0, origins)
    np.testing.assert_allclose(
        out["prediction"].to_numpy(), expected.ravel(), rtol=1e-9, atol=1e-9
    )
    assert model.families_ == families
    assert model.lookback_ == 48


def test_holdout_scores_equal_ridge_on_the_holdout():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 12)) * rng.uniform(0.5, 3, 12) + 2
    Y = X[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(300, 4))
    stats = _Holdout(X[:200], Y[:200], X[200:], Y[200:])
    columns = np.array([0, 2, 5, 7, 11])
    alpha, mse, errors, _, path = stats.score(columns, np.array([0.5, 5.0, 50.0]))
    scaler = StandardScaler().fit(X[:200, columns])
    for a, score in zip((0.5, 5.0, 50.0), path, strict=True):
        ridge = Ridge(alpha=a).fit(scaler.transform(X[:200, columns]), Y[:200])
        resid = Y[200:] - ridge.predict(scaler.transform(X[200:, columns]))
        np.testing.assert_allclose(score, np.mean(resid**2), rtol=1e-9)
        if a == alpha:
            np.testing.assert_allclose(errors, np.mean(resid**2, axis=1), rtol=1e-9)
    assert mse == pytest.approx(path.min())


# --------------------------------------------------------------------------------------
# No feature reads past the origin, nor before max_lookback
# --------------------------------------------------------------------------------------


@settings(max_examples=15)
@given(position=st.integers(200, 24 * 7 * 6 - 2), seed=st.integers(0, 2**32 - 1))
def test_values_after_the_origin_change_no_forecast(fitted, series, position, seed):
    rng = np.random.default_rng(seed)
    changed = series.copy()
    after = np.arange(position + 1, len(series))
    changed.iloc[after] = rng.normal(0, 100, len(after))
    changed.iloc[after[rng.random(len(after)) < 0.2]] = np.nan
    origin = series.index[[position]]
    before = fitted.predict(series, origins=origin)["prediction"]
    now = fitted.predict(changed, origins=origin)["prediction"]
    np.testing.assert_array_equal(before.to_numpy(), now.to_numpy())


def test_nothing_reads_before_max_lookback(series):
    model = MultiGranularityForecaster(H, max_lookback=60, calibration_size=0)
    model.fit(series)
    position = 700
    changed = series.copy()
    changed.iloc[: position - 59] = 123.0
    origin = series.index[[position]]
    before = model.predict(series, origins=origin)["prediction"].to_numpy()
    now = model.predict(changed, origins=origin)["prediction"].to_numpy()
    np.testing.assert_array_equal(before, now)
    assert model.lookback_ <= 60
    assert "level" not in model.families_ or not any(
        "ewm" in name for name in model.feature_names_
    )


# --------------------------------------------------------------------------------------
# Intervals, panels, covariates, inputs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("coverage", [0.8, 0.9])
def test_intervals_cover_on_a_series_with_known_noise(coverage):
    series = _hourly(24 * 7 * 16, seed=3, phi=0.5)
    cut = 24 * 7 * 11
    model = MultiGranularityForecaster(H).fit(series.iloc[:cut])
    origins = series.index[cut : len(series) - H]
    bands = model.predict_interval(series, origins=origins, coverage=coverage)
    truth = series.reindex(pd.DatetimeIndex(bands["time"])).to_numpy()
    inside = (bands["lower"] <= truth) & (truth <= bands["upper"])
    assert abs(inside.mean() - coverage) < 0.04


def test_panel_series_are_scaled_by_their_own_level_and_spread(series):
    frame = series.rename_axis("time").reset_index()
    panel = pd.concat(
        [frame.assign(id="a"), frame.assign(id="b", y=3 * frame["y"] + 7)]
    )
    model = MultiGranularityForecaster(
        H, time_column="time", target="y", group_column="id", calibration_size=0
    ).fit(panel)
    out = model.predict()
    a = out.loc[out["id"] == "a", "prediction"].to_numpy()
    b = out.loc[out["id"] == "b", "prediction"].to_numpy()
    np.testing.assert_allclose(b, 3 * a + 7, rtol=1e-9)


def test_polars_input_gives_the_pandas_forecasts(series):
    frame = series.rename_axis("time").reset_index()
    kwargs = dict(time_column="time", target="y", calibration_size=0)
    pandas_out = MultiGranularityForecaster(H, **kwargs).fit(frame).predict()
    polars_frame = pl.DataFrame({c: frame[c].to_numpy() for c in frame})
    polars_out = MultiGranularityForecaster(H, **kwargs).fit(polars_frame).predict()
    np.testing.assert_allclose(pandas_out["prediction"], polars_out["prediction"])


def test_a_covariate_that_leads_the_target_is_chosen():
    rng = np.random.default_rng(5)
    n = 24 * 7 * 6
    lead = np.cumsum(rng.normal(size=n))
    target = np.roll(lead, 1) + rng.normal(0, 0.1, n)
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=n, freq="h"),
            "y": target,
            "lead": lead,
        }
    )
    kwargs = dict(time_column="time", target="y", calibration_size=0)
    model = MultiGranularityForecaster(1, covariates=["lead"], **kwargs).fit(frame)
    assert "covariates" in model.families_
    assert model.family_shares_["covariates"] > 0.5
    # the forecast is the covariate's last value, nearly
    out = model.predict()
    assert out["prediction"].iloc[0] == pytest.approx(lead[-1], abs=0.1)


def test_selection_table_records_every_candidate(fitted):
    table = fitted.selection_
    assert list(table.columns) == [
        "stage",
        "candidate",
        "alpha",
        "holdout_mse",
        "z",
        "accepted",
    ]
    # one accepted lookback; a family is accepted only with z above the gate
    assert table.loc[table["stage"] == "lookback", "accepted"].sum() == 1
    families = table[table["stage"].str.startswith("families")]
    assert (families.loc[families["accepted"], "z"] > 1.0).all()
    accepted = families.loc[families["accepted"], "candidate"].tolist()
    assert accepted == fitted.families_
    assert sum(fitted.family_shares_.values()) == pytest.approx(1.0)


def test_verbose_reports_progress(series, capsys):
    MultiGranularityForecaster(H, verbose=1, calibration_size=0).fit(series)
    assert "candidate columns" in capsys.readouterr().out


def test_sharing_without_blocks_warns(series):
    with pytest.warns(UserWarning, match="sharing=0.5 has no effect"):
        MultiGranularityForecaster(
            H, families=["calendar"], sharing=0.5, calibration_size=0
        ).fit(series)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"families": ["nope"]}, "families: 'nope' is not a family"),
        ({"families": ["covariates"]}, "'covariates' has no column"),
        ({"lookback": 100, "max_lookback": 50}, "lookback=100 reads further back"),
    ],
)
def test_bad_parameters_name_the_fix(series, params, match):
    with pytest.raises(ValueError, match=match):
        MultiGranularityForecaster(H, calibration_size=0, **params).fit(series)


def test_a_horizon_longer_than_the_seasonal_weeks_reads_no_future():
    # H = 2 weeks + 1 step: the seasonal columns 2 weeks back would start after
    # the origin; they are left out, and no forecast reads past the origin
    series = _hourly(24 * 7 * 20, seed=2)
    model = MultiGranularityForecaster(337, max_lookback=336, calibration_size=0)
    model.fit(series)
    origin = series.index[[2000]]
    changed = series.copy()
    changed.iloc[2001:] = 0.0
    np.testing.assert_array_equal(
        model.predict(series, origins=origin)["prediction"].to_numpy(),
        model.predict(changed, origins=origin)["prediction"].to_numpy(),
    )
