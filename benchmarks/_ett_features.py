"""PROTOTYPE multi-granularity features for the ETT benchmark, plain numpy.

Stands in for ``GranularityTransformer`` in the research of issue 5. Every function
here maps the ``(n, L)`` input windows of ``benchmarks/ett.py`` to features, so no
feature reads further back than the ``L`` rows a window may see. The semantics are
the transformer's row windows with ``closed="right"``: the window of granularity
``g`` at lag ``k`` of the row at position ``t`` holds rows ``t - (k + 1) g + 1 .. t -
k g`` (lag 0 ends at the row itself), so ``block_stats(windows, g, n_lags, stats)``
equals the columns of ``GranularityTransformer((g,), stats=stats, n_lags=n_lags,
closed="right")`` at the windows' last rows (checked on ETTh1: the model entry
``means g=1,4,24 x 14`` gives the same validation and test MSE through the
transformer, ``LastValueRelative`` and ``MultiGranularityRegressor(sharing=0)``).
``recency_weights`` has no counterpart yet: ``MultiGranularityRegressor``
standardises its features, which undoes a column scaling, so it needs per-feature
penalty factors to express the recency prior.

What the research in issue 5 found (``doc/benchmarks.md``, ETT sections):

* Last-value-relative targets *and* features (NLinear) matter most: test MSE on
  ETTh1 H=720 drops from 0.179 to 0.079 with ridge on the same 336 values.
* Linear features of the window (block means at any granularity) span no more than
  the raw window, so with ridge they only change the prior. The prior that helps is
  *recency*: penalise old lags more (``recency_weights``). It is what makes the
  ETTh1 margins (0.0524 / 0.0677 / 0.0782 / 0.0778 against NLinear's 0.053 / 0.069
  / 0.081 / 0.080) and lowers ETTh2 H=96 from 0.131 to 0.125.
* 42 block means (granularities 1, 4, 24 rows x 14 lags) come within 1-2% of the
  336 raw lags at long horizons with an eighth of the features, but lose at H=96:
  the recent lags are needed one by one.
* Non-linear window statistics (block std) lower the validation error almost
  everywhere but raise the ETTh1 test error (the test months are calmer than any
  the model was fitted on). Added behind a one-standard-error gate on validation
  they are kept only on ETTm1 H=96 and ETTm2 H=96..336, where they also help on
  test (but ETTm2 H=96, +0.0002). The gate was designed after seeing that trap, so
  treat it as a hypothesis until checked on other splits.
"""

import numpy as np


def block_stats(windows, granularity, n_lags, stats=("mean",), *, ref=None):
    """Statistics of consecutive blocks of ``granularity`` rows, newest block first.

    Parameters
    ----------
    windows : ndarray of shape (n, L)
    granularity : int
        Block size in rows.
    n_lags : int
        Blocks per statistic; clipped to ``L // granularity`` so no block reaches
        before the window.
    stats : tuple of {"mean", "std", "min", "max", "last"}
    ref : ndarray of shape (n, 1) or None
        Subtracted from the location statistics (mean, min, max, last), which makes
        them relative to, e.g., the last observed value. ``std`` is left alone.

    Returns
    -------
    ndarray of shape (n, len(stats) * n_lags)
        Column ``s * n_lags + k`` is statistic ``s`` of lag ``k``, the order the
        transformer uses within one granularity.
    """
    n, length = windows.shape
    n_lags = min(n_lags, length // granularity)
    blocks = windows[:, length - n_lags * granularity :].reshape(
        n, n_lags, granularity
    )[:, ::-1, :]
    out = []
    for stat in stats:
        if stat == "std":
            out.append(blocks.std(axis=2))
            continue
        value = {
            "mean": lambda b: b.mean(axis=2),
            "min": lambda b: b.min(axis=2),
            "max": lambda b: b.max(axis=2),
            "last": lambda b: b[:, :, -1],
        }[stat](blocks)
        out.append(value if ref is None else value - ref)
    return np.concatenate(out, axis=1)


def recency_weights(length, rows_per_hour, tau_hours, power=2.0):
    """Column scales ``(1 + lag / tau)^-power`` for the window's columns, oldest first.

    Scaling a column by ``w`` divides its ridge penalty by ``w**2``, so old lags pay
    more: ``tau_hours=30, power=2`` makes a lag of 30 hours 16 times as expensive as
    the last value, a week about 1,900 times. ``tau_hours=None`` gives plain ridge.
    """
    if tau_hours is None:
        return np.ones(length)
    lag = np.arange(length)[::-1]
    return (1.0 + lag / (tau_hours * rows_per_hour)) ** (-power)


def relative_window(weights=None):
    """Featurizer: the window minus its last value, columns optionally rescaled."""

    def featurize(windows):
        z = windows - windows[:, -1:]
        return z if weights is None else z * weights

    return featurize


def multigranularity(granularities, n_lags, stats=("mean",)):
    """Featurizer: block statistics at several granularities, relative to the last value."""

    def featurize(windows):
        last = windows[:, -1:]
        parts = [
            block_stats(windows, g, n_lags, stats, ref=last) for g in granularities
        ]
        return np.concatenate(parts, axis=1)

    return featurize


def with_block_std(featurize, granularities):
    """Append the block standard deviations at ``granularities`` (rows), all lags."""

    def featurize_std(windows):
        length = windows.shape[1]
        parts = [featurize(windows)]
        parts += [block_stats(windows, g, length // g, ("std",)) for g in granularities]
        return np.concatenate(parts, axis=1)

    return featurize_std


# Recency scales tried on validation (hours). None = plain ridge on the window.
TAUS = (None, 100.0, 30.0, 10.0)


def recency_candidates(rows_per_hour, length):
    """The candidate featurizers the tuned prototype chooses from on validation."""
    return {
        f"tau={tau}": relative_window(recency_weights(length, rows_per_hour, tau))
        for tau in TAUS
    }


def research_candidates(rows_per_hour, length):
    """Every configuration of the research table, by label.

    Granularities are in rows; ``u`` rows make an hour.
    """
    u = rows_per_hour
    decay30 = relative_window(recency_weights(length, u, 30.0))
    return {
        "raw window - last": relative_window(),
        "raw - last, recency tau=100h": relative_window(
            recency_weights(length, u, 100.0)
        ),
        "raw - last, recency tau=30h": decay30,
        "raw - last, recency tau=10h": relative_window(
            recency_weights(length, u, 10.0)
        ),
        "means g=1,4,24 rows x 14 lags": multigranularity((1, 4, 24), 14),
        "means g=1,2,4,8,24 rows x 14 lags": multigranularity((1, 2, 4, 8, 24), 14),
        "means g=1,4,24,48 rows x 7 lags": multigranularity((1, 4, 24, 48), 7),
        "raw - last + std g=4u": with_block_std(relative_window(), (4 * u,)),
        "raw - last + std g=4u,24u": with_block_std(relative_window(), (4 * u, 24 * u)),
        "recency 30h + std g=4u,24u": with_block_std(decay30, (4 * u, 24 * u)),
    }
