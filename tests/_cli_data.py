"""Small generated CSV data shared by the CLI tests."""

import numpy as np
import pandas as pd

# Small enough to fit in a blink: 1h steps, windows of 1h, 4h and 1D with two lags
# (48 rows of history), six steps ahead.
N_ROWS, HORIZON, LAGS, WINDOW, SPLITS = 400, 6, 2, 48, 5
FAST = ["--horizon", str(HORIZON), "--lags", str(LAGS), "--splits", str(SPLITS)]


def hourly_frame(n_rows=N_ROWS, seed=0):
    """A daily cycle plus noise, and a temperature column, as a CSV would hold it."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-03-01", periods=n_rows, freq="h")
    hours = np.arange(n_rows)
    return pd.DataFrame(
        {
            "when": times.strftime("%Y-%m-%d %H:%M"),
            "value": 5 + np.sin(2 * np.pi * hours / 24) + rng.normal(0, 0.2, n_rows),
            "temp": 12 + np.cos(2 * np.pi * hours / 24) + rng.normal(0, 0.1, n_rows),
        }
    )


def csv_args(path, *extra):
    return ["--csv", str(path), "--time", "when", "--target", "value", *FAST, *extra]
