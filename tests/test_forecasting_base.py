"""The shared forecaster base: input, grid, scaling, origins, intervals, output.

A small subclass records what the base hands it, so that each test compares what
the model sees (or returns) with numpy and pandas computations made by hand.
"""

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone

from sklearn_multigran.forecasting import NaiveForecaster
from sklearn_multigran.forecasting._base import (
    _BaseForecaster,
    _ffill,
    _steps_per,
    _targets,
    _windows,
)


class _Recorder(_BaseForecaster):
    """Forecasts ``origin value + step / 100`` (scaled); records every call."""

    def __init__(
        self,
        horizon,
        *,
        time_column=None,
        target=None,
        group_column=None,
        covariates=None,
        freq=None,
        calibration_size="auto",
    ):
        self.horizon = horizon
        self.time_column = time_column
        self.target = target
        self.group_column = group_column
        self.covariates = covariates
        self.freq = freq
        self.calibration_size = calibration_size

    def _fit_series(self, values, covariates, times):
        calls = getattr(self, "fit_calls_", [])
        self.fit_calls_ = [*calls, ([v.copy() for v in values], covariates)]
        self.fit_times_ = times

    def _forecast(self, values, covariates, times, origins):
        self.forecast_call_ = ([v.copy() for v in values], covariates, origins)
        steps = np.arange(1, self.horizon + 1) / 100
        return [
            _ffill(v)[o][:, None] + steps for v, o in zip(values, origins, strict=True)
        ]


def _hourly(n, start="2024-01-01", seed=0, name="y"):
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n, freq="h")
    return pd.Series(rng.normal(10, 2, n), index=index, name=name)


def _panel(seed=0):
    """Two hourly series of different lengths and levels, rows shuffled."""
    rng = np.random.default_rng(seed)
    parts = []
    for key, n, level in (("b", 40, 100.0), ("a", 30, -5.0)):
        parts.append(
            pd.DataFrame(
                {
                    "when": pd.date_range("2024-01-01", periods=n, freq="h"),
                    "shop": key,
                    "sales": level + rng.normal(0, 3, n),
                    "price": rng.normal(2, 1, n),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Array helpers
# --------------------------------------------------------------------------------------


def test_helpers_against_loops():
    values = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, 5.0, np.nan])
    filled = _ffill(values)
    expected = [0.0, 1.0, 1.0, 1.0, 4.0, 5.0, 5.0]
    np.testing.assert_array_equal(filled, expected)
    origins = np.array([0, 2, 6])
    W = _windows(values, origins, 3)
    for row, o in enumerate(origins):
        for j in range(3):
            t = o - 2 + j
            ref = values[t] if t >= 0 else np.nan
            np.testing.assert_array_equal(W[row, j], ref)
    Y = _targets(values, origins, 2)
    for row, o in enumerate(origins):
        for j in range(2):
            t = o + 1 + j
            ref = values[t] if t < len(values) else np.nan
            np.testing.assert_array_equal(Y[row, j], ref)
    assert _steps_per(pd.tseries.frequencies.to_offset("10min"), 86400 * 10**9) == 144
    assert _steps_per(pd.tseries.frequencies.to_offset("7min"), 86400 * 10**9) is None
    assert _steps_per(pd.tseries.frequencies.to_offset("1D"), 86400 * 10**9) is None
    assert _steps_per(pd.tseries.frequencies.to_offset("MS"), 86400 * 10**9) is None


# --------------------------------------------------------------------------------------
# What the model sees
# --------------------------------------------------------------------------------------


def test_gaps_become_nan_rows_and_values_are_scaled():
    series = _hourly(50)
    gappy = series.drop(series.index[[10, 11, 30]])
    model = _Recorder(3, calibration_size=0).fit(gappy)
    (values,), _ = model.fit_calls_[-1]
    assert len(values) == 50
    assert np.isnan(values[[10, 11, 30]]).all()
    # the grid's times, continued for the horizon
    expected_times = pd.date_range(series.index[0], periods=53, freq="h").as_unit("ns")
    np.testing.assert_array_equal(model.fit_times_[0], expected_times)
    assert model.fit_times_[0].tz is None
    observed = gappy.to_numpy()
    mean, std = observed.mean(), observed.std()
    expected = (series.to_numpy() - mean) / std
    keep = ~np.isnan(values)
    np.testing.assert_allclose(values[keep], expected[keep], rtol=1e-12)
    np.testing.assert_allclose(model.scale_mean_, [mean])
    np.testing.assert_allclose(model.scale_std_, [std])
    assert model.freq_ == pd.Timedelta("1h")
    assert (model.steps_per_day_, model.steps_per_week_) == (24, 168)


def test_panel_series_are_scaled_by_their_own_level_and_covariates_ride_along():
    frame = _panel()
    model = _Recorder(
        2, time_column="when", group_column="shop", covariates=["price"]
    ).fit(frame)
    assert model.fit_calls_[-1][1] is not None
    values, covariates = model.fit_calls_[-1]
    keys = list(pd.unique(frame["shop"]))  # in order of first appearance
    assert list(model.series_keys_) == keys
    for k, key in enumerate(keys):
        own = frame[frame["shop"] == key].sort_values("when")
        y = own["sales"].to_numpy()
        np.testing.assert_allclose(values[k], (y - y.mean()) / y.std(), rtol=1e-12)
        p = own["price"].to_numpy()
        np.testing.assert_allclose(
            covariates[k][:, 0], (p - p.mean()) / p.std(), rtol=1e-12
        )


def test_constant_series_is_forecast_as_its_level():
    series = pd.Series(7.0, index=pd.date_range("2024-01-01", periods=20, freq="D"))
    out = NaiveForecaster(2).fit(series).predict()
    np.testing.assert_allclose(out["prediction"], 7.0)


def test_calibration_fit_is_cut_before_the_calibration_targets_then_refitted():
    series = _hourly(100)
    model = _Recorder(5, calibration_size=10).fit(series)
    assert len(model.fit_calls_) == 2
    first, last = model.fit_calls_[0][0][0], model.fit_calls_[1][0][0]
    # calibration origins are 85..94 (their targets end at row 99); the first fit
    # sees rows 0..85: its last target is the first calibration origin's value
    assert len(first) == 86
    assert len(last) == 100
    assert model.calibration_residuals_.shape == (10, 5)
    # residuals by hand: |y[o + h] - (y[o] + h / 100)| in scaled units
    scaled = (series.to_numpy() - series.mean()) / series.std(ddof=0)
    expected = np.array(
        [
            [abs(scaled[o + h] - scaled[o] - h / 100) for h in range(1, 6)]
            for o in range(85, 95)
        ]
    )
    np.testing.assert_allclose(model.calibration_residuals_, expected, rtol=1e-10)


# --------------------------------------------------------------------------------------
# Origins and the output frame
# --------------------------------------------------------------------------------------


def test_predict_after_the_end_and_from_origins():
    series = _hourly(48)
    model = _Recorder(3).fit(series)
    out = model.predict()
    assert list(out.columns) == ["origin", "step", "time", "prediction"]
    assert (out["origin"] == series.index[-1]).all()
    assert list(out["step"]) == [1, 2, 3]
    expected_times = series.index[-1] + pd.to_timedelta([1, 2, 3], "h")
    assert list(out["time"]) == list(expected_times)
    np.testing.assert_allclose(
        out["prediction"],
        series.iloc[-1] + np.array([1, 2, 3]) / 100 * series.std(ddof=0),
    )

    origins = series.index[[30, 5, 12]]
    out = model.predict(series, origins=origins)
    assert list(out["origin"].unique()) == sorted(origins)
    # only rows at or before the last origin reach the model
    values, _, positions = model.forecast_call_
    assert len(values[0]) == 31
    np.testing.assert_array_equal(positions[0], [5, 12, 30])
    assert len(model.predict(series, origins="all")) == 48 * 3


def test_panel_output_sorted_by_group_origin_step():
    frame = _panel()
    model = _Recorder(2, time_column="when", group_column="shop", target="sales")
    model.fit(frame)
    out = model.predict()
    assert list(out.columns) == ["shop", "origin", "step", "time", "prediction"]
    assert list(out["shop"]) == ["a", "a", "b", "b"]
    for key, group in out.groupby("shop"):
        own = frame[frame["shop"] == key].sort_values("when")
        assert (group["origin"] == own["when"].iloc[-1]).all()
        np.testing.assert_allclose(
            group["prediction"],
            own["sales"].iloc[-1] + np.array([1, 2]) / 100 * own["sales"].std(ddof=0),
        )
    # an origin in one series' span only is used for that series
    origin = frame["when"].max()
    out = model.predict(frame, origins=[origin, pd.Timestamp("2024-01-01 03:00")])
    counts = out.groupby("shop").size()
    assert counts["a"] == 2
    assert counts["b"] == 4
    keys = list(zip(out["shop"], out["origin"], out["step"], strict=True))
    assert keys == sorted(keys)


def test_time_zone_and_calendar_steps_in_the_output():
    index = pd.date_range("2024-03-30 22:00", periods=30, freq="h", tz="Europe/Berlin")
    series = pd.Series(np.arange(30.0), index=index)
    out = _Recorder(2).fit(series).predict()
    assert str(out["time"].dt.tz) == "Europe/Berlin"
    assert list(out["time"]) == list(index[-1] + pd.to_timedelta([1, 2], "h"))

    months = pd.date_range("2020-01-01", periods=30, freq="MS")
    series = pd.Series(np.arange(30.0), index=months)
    model = _Recorder(3).fit(series)
    out = model.predict()
    assert list(out["time"]) == list(pd.date_range("2022-07-01", periods=3, freq="MS"))
    out = model.predict(series, origins=[months[3]])
    assert list(out["time"]) == list(months[4:7])


def test_polars_frame_equals_pandas():
    frame = _panel()
    polars = pl.from_dict({c: frame[c].to_numpy() for c in frame.columns})
    model = NaiveForecaster(3, time_column="when", group_column="shop", target="sales")
    a = clone(model).fit(frame).predict_interval()
    b = clone(model).fit(polars).predict_interval()
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------------------
# Conformal intervals
# --------------------------------------------------------------------------------------


def test_interval_half_width_is_the_corrected_residual_quantile():
    series = _hourly(200, seed=3)
    model = _Recorder(2, calibration_size=37).fit(series)
    residuals = model.calibration_residuals_
    out = model.predict_interval(coverage=[0.8, 0.9])
    n = len(residuals)
    for c in (0.8, 0.9):
        k = math.ceil((n + 1) * c)
        half = np.sort(residuals, axis=0)[k - 1] * model.scale_std_[0]
        np.testing.assert_allclose(out[f"upper_{c:g}"] - out["prediction"], half)
        np.testing.assert_allclose(out["prediction"] - out[f"lower_{c:g}"], half)
    # too few residuals for the coverage asked: an unbounded interval
    out = model.predict_interval(coverage=0.99)
    assert np.isinf(out["upper"]).all()


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def _frame(n=30):
    return pd.DataFrame(
        {"t": pd.date_range("2024-01-01", periods=n, freq="h"), "y": np.arange(n) * 1.0}
    )


@pytest.mark.parametrize(
    ("params", "X", "match"),
    [
        ({"time_column": "when"}, _frame(), r"time_column='when' is not a column"),
        ({"time_column": "t", "target": "z"}, _frame(), r"target='z' is not a column"),
        (
            {"time_column": "t", "group_column": "g"},
            _frame(),
            r"group_column='g' is not a column",
        ),
        (
            {"time_column": "t", "target": "y", "covariates": ["c"]},
            _frame(),
            r"covariates='c' is not a column",
        ),
        ({}, _frame(), r"X has no time: pass time_column"),
        (
            {"time_column": "t"},
            _frame().assign(y=list("abcdefghijklmnopqrstuvwxyzabcd")),
            r"target='y' must hold numbers",
        ),
        (
            {"time_column": "t"},
            _frame().assign(t=np.arange(30)),
            r"time_column='t' must hold datetimes",
        ),
        (
            {"time_column": "t", "target": "y"},
            _frame().assign(z=1.0).drop(columns="y").rename(columns={"z": "y2"}),
            r"target='y' is not a column",
        ),
        ({"horizon": 30, "time_column": "t"}, _frame(), r"horizon=30 is longer"),
        ({}, pd.Series(np.arange(5.0)), r"Series without a DatetimeIndex"),
        ({}, np.arange(5.0), r"X must be a pandas Series"),
        (
            {"time_column": "t"},
            _frame().assign(
                t=pd.Timestamp("2024-01-01")
                + pd.to_timedelta(np.arange(30), "h")
                + pd.to_timedelta(np.arange(30) % 7 * 3, "min")
            ),
            r"resample",
        ),
        (
            {"time_column": "t"},
            pd.concat([_frame(), _frame().iloc[:1]]),
            r"has the time 2024-01-01 00:00:00 twice",
        ),
        (
            {"group_column": "g"},
            _hourly(20),
            r"group_column='g' names a column, but X is a pandas Series",
        ),
    ],
)
def test_fit_errors(params, X, match):
    params = {"horizon": 2, **params}
    with pytest.raises((ValueError, TypeError), match=match):
        NaiveForecaster(**params).fit(X)


def test_predict_errors():
    series = _hourly(50)
    model = NaiveForecaster(2).fit(series)
    with pytest.raises(ValueError, match=r"origins: 2025-01-01 00:00:00 is not a time"):
        model.predict(series, origins=[pd.Timestamp("2025-01-01")])
    with pytest.raises(ValueError, match=r"origins: 2024-01-01 00:30:00 is not"):
        model.predict(series, origins=["2024-01-01 00:30"])
    with pytest.raises(ValueError, match=r"origins need the data"):
        model.predict(origins="all")
    with pytest.raises(ValueError, match=r"origins='last' is not understood"):
        model.predict(series, origins="last")
    aware = series.tz_localize("UTC")
    with pytest.raises(ValueError, match=r"in time zone UTC, but the forecaster"):
        model.predict(aware)
    with pytest.raises(ValueError, match=r"origins are in time zone UTC"):
        model.predict(series, origins=aware.index[:1])
    with pytest.raises(ValueError, match=r"coverage must be a number in \(0, 1\)"):
        model.predict_interval(coverage=90)
    with pytest.raises(ValueError, match=r"calibration_size=0"):
        NaiveForecaster(2, calibration_size=0).fit(series).predict_interval()

    frame = _panel()
    panel = NaiveForecaster(2, time_column="when", group_column="shop", target="sales")
    panel.fit(frame)
    with pytest.raises(ValueError, match=r"series 'z' was not seen in fit"):
        panel.predict(frame[frame["shop"] == "a"].assign(shop="z"))
    with pytest.raises(ValueError, match=r"group_column='shop' is not a column"):
        panel.predict(frame.drop(columns="shop"))
    with pytest.raises(ValueError, match=r"must be an int in the range \[1, inf\)"):
        NaiveForecaster(0).fit(series)
