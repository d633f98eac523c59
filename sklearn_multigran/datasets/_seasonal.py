"""A generated load series with daily and weekly seasonality, for demos and tests."""

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

_DAY = pd.Timedelta("1D")


def make_seasonal_series(
    n_samples=4 * 24 * 28,
    *,
    freq="15min",
    n_series=1,
    start="2024-01-01",
    noise=0.3,
    random_state=None,
):
    """A load-like series: daily and weekly cycles, a slow trend and AR(1) noise.

    ``load = 10 + 3 sin(2 pi day) + 1.5 sin(2 pi week) + 0.5 trend + noise`` with
    phases varying by series, and a ``temperature`` column that follows the daily
    cycle with a lag. With ``noise=0`` the columns are exactly these sums.

    Parameters
    ----------
    n_samples : int, default=2688
        Rows per series (the default is four weeks of 15-minute steps).
    freq : str, default="15min"
        Step between rows.
    n_series : int, default=1
        Number of series. With one, the result has a ``DatetimeIndex``; with more,
        a stacked frame with columns ``time`` and ``series``.
    start : str, default="2024-01-01"
        First timestamp.
    noise : float, default=0.3
        Standard deviation of the AR(1) innovations (coefficient 0.8).
    random_state : int, RandomState instance or None, default=None
        Seed of the noise and the series' phases.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``load`` and ``temperature`` (and ``time``, ``series``).

    Examples
    --------
    >>> from sklearn_multigran.datasets import make_seasonal_series
    >>> make_seasonal_series(96 * 7, random_state=0).shape
    (672, 2)
    >>> make_seasonal_series(10, n_series=3, random_state=0).columns.tolist()
    ['time', 'series', 'load', 'temperature']
    """
    rng = check_random_state(random_state)
    index = pd.date_range(start, periods=n_samples, freq=freq)
    days = (index - index[0]) / _DAY
    frames = []
    for series in range(n_series):
        phase = 0.0 if series == 0 else rng.uniform(0, 2 * np.pi)
        daily = np.sin(2 * np.pi * days + phase)
        weekly = np.sin(2 * np.pi * days / 7 + phase / 2)
        trend = days / max(days.max(), 1.0)
        innovations = rng.normal(scale=noise, size=n_samples)
        ar = np.empty(n_samples)
        level = 0.0
        for i in range(n_samples):
            level = 0.8 * level + innovations[i]
            ar[i] = level
        load = 10 + 3 * daily + 1.5 * weekly + 0.5 * trend + ar
        temperature = 15 + 5 * np.sin(2 * np.pi * (days - 0.125) + phase)
        temperature = temperature + rng.normal(scale=noise, size=n_samples)
        frame = pd.DataFrame(
            {"load": np.asarray(load), "temperature": np.asarray(temperature)},
            index=index,
        )
        if n_series > 1:
            frame = frame.reset_index(names="time")
            frame.insert(1, "series", f"s{series}")
        frames.append(frame)
    if n_series == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)
