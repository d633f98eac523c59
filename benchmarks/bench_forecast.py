"""Forecasting baselines on the development series and ETT (issue 15's protocol).

For every series:

* forecast origins are the positions ``0 .. n - 1 - H`` (every origin has all of
  its ``H`` targets); they are split chronologically 60/20/20 into train,
  validation and test origins;
* the series is standardised with the mean and population std of the rows up to
  the last train origin, and every figure is on that scale;
* each model is fitted on the rows up to the first test origin: its training
  targets end at that origin's value, an input of the test forecasts and never one
  of their targets. Models that tune (alpha, LightGBM's grid) hold out the last
  25% of their origins, the validation origins (``validation_size=0.25``), then
  refit on train + validation;
* MSE and MAE over all test origins and steps (NaN truths, Beijing's missing
  PM2.5, left out).

``H`` is a day of steps: 24 for hourly series, 144 for the 10-minute one, 96 for
the 15-minute ETTm files. Models are ``MODELS``: name -> factory
``factory(horizon, spec) -> forecaster`` with ``fit(series)`` and
``predict(series, origins=...)`` (any ``_BaseForecaster``); add a row by adding an
entry. Fit times are wall seconds of ``fit`` (alpha search and tuning included),
median of ``--repeats`` fits for the cheap models and one fit for LightGBM, in
this process with BLAS and LightGBM on one thread. Conformal coverage of the
80% and 90% intervals on the test origins is measured with a second fit that
keeps calibration origins (``calibration_size="auto"``), for the cheap models.

Run ``python benchmarks/bench_forecast.py`` (``--quick`` for a smoke run on three
series with every 6th test origin). The table is written into
``doc/benchmarks.md`` between ``<!-- forecast:start -->`` and
``<!-- forecast:end -->``. Nothing derived from the data is saved but the metrics.
"""

import argparse
import statistics
import time
from pathlib import Path

import _harness
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from sklearn_multigran.forecasting import (
    MultiGranularityForecaster,
    NaiveForecaster,
    WindowRidgeForecaster,
)
from sklearn_multigran.forecasting._base import _BaseForecaster, _ffill, _windows

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DOC_PATH = ROOT / "doc" / "benchmarks.md"
MARKERS = "forecast"
# share of the fitted origins (train + validation) that is validation: 20 / 80
VALIDATION_SIZE = 0.25


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def _ts_y(name):
    frame = pd.read_csv(DATA / "dev" / name, parse_dates=["ts"])
    return pd.Series(frame["y"].to_numpy(float), index=pd.DatetimeIndex(frame["ts"]))


def _beijing():
    frame = pd.read_csv(DATA / "dev" / "beijing_pm25_hourly.csv")
    times = pd.to_datetime(frame[["year", "month", "day", "hour"]])
    return pd.Series(pd.to_numeric(frame["pm2.5"]).to_numpy(float), index=times)


def _appliances():
    frame = pd.read_csv(DATA / "dev" / "appliances_energy_10min.csv.xz")
    values = pd.to_numeric(frame["Appliances"].astype(str).str.strip())
    times = pd.to_datetime(frame["date"])
    return pd.Series(values.to_numpy(float), index=pd.DatetimeIndex(times))


def _ett(name):
    frame = pd.read_csv(DATA / "ett" / f"{name}.csv", parse_dates=["date"])
    return pd.Series(frame["OT"].to_numpy(float), index=pd.DatetimeIndex(frame["date"]))


# name -> (loader, horizon)
SERIES = {
    "beijing_pm25_hourly": (_beijing, 24),
    "solar_power_hourly": (lambda: _ts_y("solar_power_hourly.csv"), 24),
    "wind_power_hourly": (lambda: _ts_y("wind_power_hourly.csv"), 24),
    "sf_traffic_hourly": (lambda: _ts_y("sf_traffic_hourly.csv"), 24),
    "appliances_energy_10min": (_appliances, 144),
    "ETTh1": (lambda: _ett("ETTh1"), 24),
    "ETTh2": (lambda: _ett("ETTh2"), 24),
    "ETTm1": (lambda: _ett("ETTm1"), 96),
    "ETTm2": (lambda: _ett("ETTm2"), 96),
}
QUICK = ("solar_power_hourly", "sf_traffic_hourly", "ETTh1")


# --------------------------------------------------------------------------------------
# LightGBM direct model, on the forecaster base
# --------------------------------------------------------------------------------------


class LightGBMDirect(_BaseForecaster):
    """One LightGBM model per step on mlforecast-style features of the origin.

    Features at origin ``o`` for step ``h`` (scaled values, forward-filled): the
    last ``min(day, 48)`` values; mean, std, min and max over the last day and the
    last week; the seasonal lags ``x[o + h - m ceil(h / m)]`` for ``m`` a day and
    a week; the hour and the day of the week of the target time. The target is
    ``x[o + h] - x[o]``. Tuning: ``num_leaves`` in ``grid`` with early stopping on
    the last ``validation_size`` of the origins, on steps 1, H/2 and H; the
    winner's median best iteration is then used for every step, refitted on all
    origins. At most ``max_rows`` training origins (evenly spaced) per model.
    """

    _parameter_constraints = {
        **_BaseForecaster._parameter_constraints,
        "grid": [list, None],
        "max_rows": [int],
        "validation_size": [float],
    }

    def __init__(
        self,
        horizon,
        *,
        grid=None,
        max_rows=6000,
        validation_size=VALIDATION_SIZE,
        calibration_size=0,
        time_column=None,
        target=None,
        group_column=None,
        covariates=None,
        freq=None,
    ):
        self.horizon = horizon
        self.grid = grid
        self.max_rows = max_rows
        self.validation_size = validation_size
        self.calibration_size = calibration_size
        self.time_column = time_column
        self.target = target
        self.group_column = group_column
        self.covariates = covariates
        self.freq = freq

    def _periods(self):
        day = self.steps_per_day_ or 24
        week = self.steps_per_week_ or 7 * day
        return day, week

    def _shared(self, filled, origins):
        day, week = self._periods()
        lags = _windows(filled, origins, min(day, 48))
        columns = [lags]
        for length in (day, week):
            window = _windows(filled, origins, length)
            columns += [
                np.nanmean(window, axis=1, keepdims=True),
                np.nanstd(window, axis=1, keepdims=True),
                np.nanmin(window, axis=1, keepdims=True),
                np.nanmax(window, axis=1, keepdims=True),
            ]
        return np.hstack(columns)

    def _step(self, filled, times, origins, h):
        day, week = self._periods()
        columns = []
        for m in (day, week):
            back = origins + h - m * int(np.ceil(h / m))
            columns.append(np.where(back >= 0, filled[np.maximum(back, 0)], np.nan))
        target_times = times[origins + h]
        columns += [target_times.hour.to_numpy(), target_times.day_of_week.to_numpy()]
        return np.column_stack(columns)

    def _design(self, values, times, h, rows):
        X, Y = [], []
        for v, t in zip(values, times, strict=True):
            filled = _ffill(v)
            origins = rows(len(v))
            shared = self._shared(filled, origins)
            X.append(np.hstack([shared, self._step(filled, t, origins, h)]))
            Y.append(v[origins + h] - filled[origins])
        X, Y = np.concatenate(X), np.concatenate(Y)
        keep = ~np.isnan(Y)
        return X[keep], Y[keep]

    def _model(self, num_leaves, n_estimators):
        from lightgbm import LGBMRegressor

        return LGBMRegressor(
            n_estimators=n_estimators,
            learning_rate=0.05,
            num_leaves=num_leaves,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            n_jobs=1,
            random_state=0,
            verbose=-1,
        )

    def _fit_series(self, values, covariates, times):
        import lightgbm

        H = self.horizon
        grid = self.grid if self.grid is not None else [15, 63]
        n = max(len(v) for v in values)
        n_origins = n - H
        cut = int(n_origins * (1 - self.validation_size))
        stride = max(1, int(np.ceil(n_origins / self.max_rows)))

        def train_rows(length):
            return np.arange(0, min(cut, length - H) - H + 1, stride)

        def val_rows(length):
            return np.arange(cut, length - H, max(1, stride // 2))

        def all_rows(length):
            return np.arange(0, length - H, stride)

        steps = sorted({1, max(1, H // 2), H})
        scores, iterations = {}, {}
        for leaves in grid:
            errors, best = [], []
            for h in steps:
                X_tr, y_tr = self._design(values, times, h, train_rows)
                X_va, y_va = self._design(values, times, h, val_rows)
                model = self._model(leaves, 1000).fit(
                    X_tr,
                    y_tr,
                    eval_X=(X_va,),
                    eval_y=(y_va,),
                    callbacks=[lightgbm.early_stopping(50, verbose=False)],
                )
                best.append(model.best_iteration_ or 1000)
                errors.append(model.best_score_["valid_0"]["l2"])
            scores[leaves] = float(np.mean(errors))
            iterations[leaves] = int(np.median(best))
        self.num_leaves_ = min(scores, key=scores.get)
        self.n_estimators_ = iterations[self.num_leaves_]
        self.validation_scores_ = scores
        self.models_ = []
        for h in range(1, H + 1):
            X, y = self._design(values, times, h, all_rows)
            model = self._model(self.num_leaves_, self.n_estimators_).fit(X, y)
            self.models_.append(model)

    def _forecast(self, values, covariates, times, origins):
        out = []
        for v, t, o in zip(values, times, origins, strict=True):
            filled = _ffill(v)
            shared = self._shared(filled, o)
            pred = np.empty((len(o), self.horizon))
            for h, model in enumerate(self.models_, start=1):
                X = np.hstack([shared, self._step(filled, t, o, h)])
                pred[:, h - 1] = model.predict(X) + filled[o]
            out.append(pred)
        return out


# --------------------------------------------------------------------------------------
# Models: name -> factory(horizon, spec) -> forecaster
# --------------------------------------------------------------------------------------


def _week(spec):
    return spec["steps_per_week"]


MODELS = {
    "repeat-last": lambda H, spec: NaiveForecaster(H, calibration_size=0),
    "seasonal naive (day)": lambda H, spec: NaiveForecaster(
        H, strategy="seasonal", season=spec["steps_per_day"], calibration_size=0
    ),
    "seasonal naive (week)": lambda H, spec: NaiveForecaster(
        H, strategy="seasonal", season=_week(spec), calibration_size=0
    ),
    "ridge-NLinear": lambda H, spec: WindowRidgeForecaster(
        H,
        lookback=_week(spec),
        validation_size=VALIDATION_SIZE,
        calibration_size=0,
    ),
    "LightGBM direct": lambda H, spec: LightGBMDirect(H, max_rows=spec["max_rows"]),
    "MultiGranularityForecaster": lambda H, spec: MultiGranularityForecaster(
        H, validation_size=VALIDATION_SIZE, calibration_size=0
    ),
}
# models fitted once (their fits are long); the others --repeats times
SLOW = {"LightGBM direct"}
# models whose conformal intervals are measured (a second fit, with calibration)
INTERVALS = {
    "repeat-last",
    "seasonal naive (day)",
    "ridge-NLinear",
    "MultiGranularityForecaster",
}


# --------------------------------------------------------------------------------------
# Protocol
# --------------------------------------------------------------------------------------


def evaluate(name, models, *, repeats, test_stride, max_rows):
    loader, H = SERIES[name]
    raw = loader()
    n = len(raw)
    n_origins = n - H
    first_val = int(0.6 * n_origins)
    first_test = int(0.8 * n_origins)
    train = raw.iloc[:first_val]
    mean, std = np.nanmean(train), np.nanstd(train)
    series = (raw - mean) / std
    fit_data = series.iloc[: first_test + 1]
    test = np.arange(first_test, n_origins, test_stride)
    origins = series.index[test]
    step = pd.Timedelta(series.index[1] - series.index[0])
    spec = {
        "steps_per_day": int(pd.Timedelta("1D") / step),
        "steps_per_week": int(pd.Timedelta("7D") / step),
        "max_rows": max_rows,
    }
    rows = []
    for model_name in models:
        factory = MODELS[model_name]
        times = []
        for _ in range(1 if model_name in SLOW else repeats):
            model = factory(H, spec)
            t0 = time.perf_counter()
            model.fit(fit_data)
            times.append(time.perf_counter() - t0)
        out = model.predict(series, origins=origins)
        truth = series.reindex(pd.DatetimeIndex(out["time"])).to_numpy()
        error = out["prediction"].to_numpy() - truth
        ok = ~np.isnan(truth)
        row = {
            "series": name,
            "model": model_name,
            "horizon": H,
            "n_test_origins": len(test),
            "mse": float(np.mean(error[ok] ** 2)),
            "mae": float(np.mean(np.abs(error[ok]))),
            "fit_seconds": statistics.median(times),
        }
        if model_name in INTERVALS:
            calibrated = factory(H, spec).set_params(calibration_size="auto")
            calibrated.fit(fit_data)
            bands = calibrated.predict_interval(
                series, origins=origins, coverage=[0.8, 0.9]
            )
            for c in (0.8, 0.9):
                lower = bands[f"lower_{c:g}"].to_numpy()[ok]
                upper = bands[f"upper_{c:g}"].to_numpy()[ok]
                inside = (lower <= truth[ok]) & (truth[ok] <= upper)
                row[f"coverage_{c:g}"] = float(inside.mean())
        print(
            f"{name:26s} {model_name:24s} MSE {row['mse']:.4f} MAE {row['mae']:.4f} "
            f"fit {row['fit_seconds']:.2f}s",
            flush=True,
        )
        rows.append(row)
    return rows


def render(rows, *, quick, seconds, loads):
    header = [
        "series",
        "H",
        "test origins",
        "model",
        "test MSE",
        "test MAE",
        "fit (s)",
        "80% cover",
        "90% cover",
    ]
    table = []
    for row in rows:
        table.append(
            [
                row["series"],
                row["horizon"],
                f"{row['n_test_origins']:,}",
                row["model"],
                f"{row['mse']:.4f}",
                f"{row['mae']:.4f}",
                f"{row['fit_seconds']:.2f}",
                f"{row['coverage_0.8']:.3f}" if "coverage_0.8" in row else "",
                f"{row['coverage_0.9']:.3f}" if "coverage_0.9" in row else "",
            ]
        )
    mode = (
        "a `--quick` smoke run (three series, every 6th test origin)"
        if quick
        else "every test origin"
    )
    text = [
        "## Forecasting baselines",
        "",
        "Each series: forecast origins split 60/20/20 in time order, values "
        "standardised with the train rows' mean and std, horizon one day of steps, "
        "models fitted on the rows up to the first test origin (tuning on the "
        "validation origins, then refitted on train + validation), MSE and MAE over "
        f"all test origins and steps; {mode}. Fit times: wall seconds, one thread "
        "(BLAS and LightGBM), median of the repeated fits for all but LightGBM "
        "(one fit). *cover*: share of the test truths inside the split-conformal "
        "80% and 90% intervals of a second fit keeping calibration origins. "
        "LightGBM fits each step on at most "
        f"{rows[0].get('max_rows', '') or 'a capped number of'} evenly spaced "
        "training origins.",
        "",
        _harness.markdown_table(header, table, align="lrrlrrrrr"),
        "",
        _harness.machine_facts(
            ["numpy", "scikit-learn", "lightgbm"], repo=ROOT, loads=loads
        ),
        f"- whole run: {seconds:.0f} s",
        "",
        "Written by `python benchmarks/bench_forecast.py"
        + (" --quick" if quick else "")
        + "`.",
    ]
    return "\n".join(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="three series, fewer origins"
    )
    parser.add_argument("--series", nargs="+", choices=list(SERIES), default=None)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-rows", type=int, default=6000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    names = args.series or (QUICK if args.quick else list(SERIES))
    models = args.models or list(MODELS)
    stride = 6 if args.quick else 1
    max_rows = min(args.max_rows, 2000) if args.quick else args.max_rows
    repeats = 1 if args.quick else args.repeats
    loads = {"start": _harness.load_average()}
    t0 = time.perf_counter()
    rows = []
    with threadpool_limits(limits=1):
        for name in names:
            for row in evaluate(
                name, models, repeats=repeats, test_stride=stride, max_rows=max_rows
            ):
                row["max_rows"] = max_rows
                rows.append(row)
    loads["end"] = _harness.load_average()
    text = render(rows, quick=args.quick, seconds=time.perf_counter() - t0, loads=loads)
    print(text)
    if not args.no_write:
        _harness.write_section(DOC_PATH, MARKERS, text)


if __name__ == "__main__":
    main()
