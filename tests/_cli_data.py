"""Small generated CSV data shared by the CLI tests."""

import numpy as np
import pandas as pd

# Small enough to fit in a blink: 1h steps, six steps ahead, three test blocks.
N_ROWS, HORIZON, SPLITS = 400, 6, 3
FAST = ["--horizon", str(HORIZON), "--splits", str(SPLITS)]


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
