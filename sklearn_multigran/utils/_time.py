"""Times, groups and regular grids, parsed once for the whole package.

The transformer, the forecasting helpers and the command line all read a time per
row, a series key per row and (for targets and folds) the regular grid the times lie
on. The rules live here so that the three agree:

* datetimes are compared as int64 nanoseconds since the epoch in UTC: time-zone-aware
  times are converted to UTC, naive times are taken as written;
* a group key is an integer code in order of first appearance, and a missing key
  is an error naming its row;
* a grid step is a pandas offset for datetimes (calendar offsets such as ``"MS"``
  included) and a positive float for numbers.

Error messages name the parameter (``label``) the caller passes, so that the user
reads the name they wrote: ``time``, ``time_column='when'`` or ``--time 'date'``.
The helpers assume nothing checked before them unless their docstring says so.
"""

import numbers
import warnings

import numpy as np
import pandas as pd

__all__ = [
    "as_pandas",
    "as_times",
    "calendar_freq",
    "fixed_step_ns",
    "column_or_array",
    "datetime_ns",
    "describe_group",
    "factorize_groups",
    "fill_grid",
    "grid_positions",
    "grid_step",
    "infer_datetime_freq",
    "min_step",
    "most_common_step",
    "parse_datetime_text",
    "show_time",
]


# --------------------------------------------------------------------------------------
# One value per row: times and groups
# --------------------------------------------------------------------------------------


def as_pandas(X, columns=None):
    """A polars DataFrame as a pandas one; anything else unchanged.

    Column by column through numpy (polars' own ``to_pandas`` needs pyarrow). With
    ``columns``, only those are converted, unless one is missing: then all are, so
    that the caller's error can list them. A ``LazyFrame`` is a query, not data,
    and is refused by name.
    """
    if not type(X).__module__.startswith("polars"):
        return X
    if type(X).__name__ == "LazyFrame":
        raise TypeError(
            "X is a polars LazyFrame, a query rather than data; collect it first, "
            "e.g. fit_transform(X.collect())."
        )
    names = X.columns
    if columns is not None and all(c in names for c in columns):
        names = list(columns)
    return pd.DataFrame({name: _polars_column(X.get_column(name)) for name in names})


def _polars_column(column):
    """A polars Series as numpy, or as pandas when it holds zone-aware datetimes.

    polars' ``to_numpy`` turns aware datetimes into naive UTC ones; the zone is
    put back so that calendar periods are read in it.
    """
    values = column.to_numpy()
    zone = getattr(column.dtype, "time_zone", None)
    if zone is None:
        return values
    return pd.Series(values).dt.tz_localize("UTC").dt.tz_convert(zone)


def column_or_array(data, value, param, n_rows):
    """Resolve ``value`` as a column of ``data`` (if a name) or an array of n_rows.

    Returns None for None; raises naming ``param`` on a missing column, a wrong
    shape or a wrong length.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if not isinstance(data, pd.DataFrame):
            raise ValueError(
                f"{param}={value!r} is a column name, but the data is not a DataFrame; "
                f"pass the {param} values as an array of length {n_rows} instead."
            )
        if value not in data.columns:
            raise ValueError(
                f"{param}={value!r} is not a column of the data; columns are "
                f"{list(data.columns)}."
            )
        return data[value].to_numpy()
    array = value.to_numpy() if isinstance(value, pd.Series | pd.Index) else value
    array = np.asarray(array)
    if array.ndim != 1:
        raise ValueError(
            f"{param} must be one-dimensional, got an array of shape {array.shape}."
        )
    if len(array) != n_rows:
        raise ValueError(
            f"{param} has {len(array)} values but the data has {n_rows} rows; pass "
            f"one {param} value per row."
        )
    return array


def factorize_groups(groups, missing):
    """Integer codes (int64) in order of first appearance, and the keys.

    ``missing(row)`` is the error message for a missing key at ``row`` (the first
    row without one): callers word it for their parameter.
    """
    codes, keys = pd.factorize(groups, sort=False, use_na_sentinel=True)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise ValueError(missing(row))
    return codes.astype(np.int64, copy=False), keys


def describe_group(keys, code, param="group"):
    """`` in group 'a'`` for messages; empty without groups."""
    return "" if keys is None else f" in {param} {keys[code]!r}"


def datetime_ns(index):
    """Int64 nanoseconds since the epoch (UTC) of a ``DatetimeIndex``.

    Aware times are converted to UTC, naive times are taken as written. NaT
    becomes int64's minimum, for the caller to find (sorting puts it first).
    """
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    if index.unit != "ns":
        # (converting an index already in nanoseconds would copy it)
        index = index.as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def as_times(times, param="time"):
    """``(values, is_datetime)``: datetime64[ns] (UTC) or float64 times.

    Raises on a missing value and on anything but datetimes or numbers.
    """
    index = pd.Index(times)
    if index.hasnans:
        row = int(np.flatnonzero(index.isna())[0])
        raise ValueError(f"{param} has a missing value at row {row}.")
    if isinstance(index, pd.DatetimeIndex):
        return datetime_ns(index).view("datetime64[ns]"), True
    if not pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_bool_dtype(
        index.dtype
    ):
        raise TypeError(
            f"{param} must hold datetimes or numbers, got dtype {index.dtype}."
        )
    return index.to_numpy(dtype=np.float64), False


def show_time(times, row):
    """A time value as users wrote it (Timestamp rather than numpy.datetime64)."""
    value = pd.Index(times[row : row + 1])[0]
    return str(value) if isinstance(value, pd.Timestamp) else repr(value)


def parse_datetime_text(raw, label, line):
    """Datetimes (naive, UTC for aware text) of a text column; ValueError otherwise.

    ``raw`` is a ``pandas.Series`` of strings (NaN for empty cells) or of
    datetimes, ``label`` how
    the column is named in messages and ``line(position)`` the line a 0-based row
    is on in the user's file. The errors quote the first bad value and its line.
    """
    if pd.api.types.is_numeric_dtype(raw.dtype):
        raise ValueError(
            f"{label} holds numbers (first {raw.iloc[0]!r}), not timestamps; "
            "the column must hold dates or times such as 2024-01-01 12:00."
        )
    empty = raw.isna().to_numpy()
    if empty.any():
        raise ValueError(
            f"{label} has an empty time at line {line(np.argmax(empty))}; "
            "drop that row or fill in its time."
        )
    # utc=True below reads a time without an offset as UTC: a column mixing the
    # two would be joined silently, so it is refused (as the transformer refuses
    # naive times after aware ones)
    offset = np.zeros(len(raw), dtype=bool)
    if not pd.api.types.is_datetime64_any_dtype(raw.dtype):
        text = raw.astype(str).str.strip()
        offset = text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$").to_numpy(dtype=bool)
    if offset.any() and not offset.all():
        raise ValueError(
            f"{label} mixes times with a UTC offset (line {line(np.argmax(offset))}: "
            f"{raw.iloc[np.argmax(offset)]!r}) and without one (line "
            f"{line(np.argmin(offset))}: {raw.iloc[np.argmin(offset)]!r}); give every "
            "time an offset, or none."
        )
    try:
        with warnings.catch_warnings():
            # pandas warns when it parses element by element; the check below is
            # what matters
            warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
            # utc=True: offsets such as +01:00 may differ between rows (daylight
            # saving time); naive times stay as written
            times = pd.to_datetime(raw, errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{label}: cannot parse the times ({exc}).") from None
    bad = times.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        hint = (
            f"the first value {raw.iloc[0]!r} set the expected format"
            if row
            else "the column must hold dates or times such as 2024-01-01 12:00"
        )
        raise ValueError(
            f"{label}: cannot parse {raw.iloc[row]!r} (line {line(row)}) "
            f"as a time; {hint}."
        )
    times = times.dt.tz_localize(None)
    return times.astype("datetime64[ns]")


# --------------------------------------------------------------------------------------
# Regular grids
# --------------------------------------------------------------------------------------


def min_step(values, codes):
    """Smallest positive difference between times of the same group, or None."""
    order = np.lexsort((values, codes))
    v = values[order]
    c = codes[order]
    diff = np.diff(v)
    same = c[1:] == c[:-1]
    positive = diff[same & (diff > 0)]
    return positive.min() if len(positive) else None


def most_common_step(ns, codes):
    """The most common positive spacing (int64 ns) of sorted times, or None.

    ``ns`` and ``codes`` are sorted by (code, time). Unlike :func:`min_step`, one
    stray short spacing does not set the grid: the caller then reports that time
    as off the grid instead of reading every other step as a gap.
    """
    same = codes[1:] == codes[:-1]
    steps = np.diff(ns)[same]
    steps = steps[steps > 0]
    if not len(steps):
        return None
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def fixed_step_ns(step):
    """The length of a grid step in nanoseconds, or None for calendar offsets.

    Times here are UTC (or naive), where a day is 24 hours: pandas 3 made ``Day`` a
    calendar offset (a day of the wall clock, 23 or 25 hours across DST) rather than
    a ``Tick``, but on UTC times it is 24 hours as it was before.
    """
    if isinstance(step, pd.offsets.Tick):
        return int(pd.Timedelta(step).value)
    if isinstance(step, pd.offsets.Day):
        return int(step.n) * 86_400 * 10**9
    return None


def calendar_freq(values, codes):
    """``pandas.infer_freq`` of the longest group as an offset, or None.

    ``values`` are datetime64[ns]. None when the group has fewer than three times or
    pandas finds no regular frequency in them.
    """
    longest = np.bincount(codes).argmax()
    own = np.unique(values[codes == longest])
    if len(own) < 3:
        return None
    with warnings.catch_warnings():
        # pandas 3 warns that infer_freq will return an offset instead of a
        # string; to_offset takes either.
        warnings.filterwarnings("ignore", message=".*infer_freq.*")
        inferred = pd.infer_freq(pd.DatetimeIndex(own))
    return None if inferred is None else pd.tseries.frequencies.to_offset(inferred)


def infer_datetime_freq(values, codes, param):
    """``pandas.infer_freq`` on the longest group, else the smallest step.

    ``infer_freq`` recognises calendar frequencies (month starts have steps of 28 to
    31 days) but needs three regular times; the smallest step is the fallback for
    short groups and grids with gaps, where it is the grid step unless every step
    is a gap.
    """
    inferred = calendar_freq(values, codes)
    if inferred is not None:
        return inferred
    step = min_step(values.view(np.int64), codes)
    if step is None:
        raise ValueError(
            f"Cannot infer freq: no group has two different {param} values. "
            "Pass freq, e.g. freq='1h'."
        )
    return pd.tseries.frequencies.to_offset(pd.Timedelta(int(step), "ns"))


def grid_step(values, is_datetime, codes, freq, param="time"):
    """The grid step: a pandas offset for datetimes, a positive float for numbers.

    ``values, is_datetime`` come from :func:`as_times`; ``freq=None`` infers it.
    """
    if is_datetime:
        if freq is None:
            return infer_datetime_freq(values, codes, param)
        try:
            return pd.tseries.frequencies.to_offset(freq)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"freq={freq!r} is not a pandas frequency; pass e.g. '15min', "
                "'1h', '1D', 'MS' or a pandas.Timedelta."
            ) from exc
    if freq is None:
        step = min_step(values, codes)
        if step is None:
            raise ValueError(
                f"Cannot infer freq: no group has two different {param} values. "
                "Pass freq, e.g. freq=1."
            )
        return float(step)
    if isinstance(freq, bool) or not isinstance(freq, numbers.Real) or freq <= 0:
        raise ValueError(
            f"freq={freq!r} must be a positive number when {param} is numeric."
        )
    return float(freq)


def grid_positions(times, codes, freq, param="time"):
    """Integer positions of ``times`` on the grid of step ``freq``, from the earliest.

    Raises if a time is off the grid (e.g. 01:30 on an hourly grid).
    """
    values, is_datetime = as_times(times, param)
    step = grid_step(values, is_datetime, codes, freq, param)
    if is_datetime:
        index = pd.DatetimeIndex(values)
        step_ns = fixed_step_ns(step)
        if step_ns is not None:
            rel = values.view(np.int64) - values.view(np.int64).min()
            pos, rem = np.divmod(rel, step_ns)
            off_grid = rem != 0
        else:
            grid = pd.date_range(index.min(), index.max(), freq=step)
            pos = grid.get_indexer(index)
            off_grid = pos < 0
        start = index.min()
        shown = f"freq={step.freqstr!r}"
    else:
        ratio = (values - values.min()) / step
        pos = np.rint(ratio)
        off_grid = ~np.isclose(ratio, pos, rtol=0.0, atol=1e-6)
        start = values.min()
        shown = f"step {step}"
    if off_grid.any():
        row = int(np.flatnonzero(off_grid)[0])
        raise ValueError(
            f"{param} value {show_time(times, row)} at row {row} is not on the grid of "
            f"{shown} starting at {start}; pass the freq the data was sampled at, "
            "or align the times first (e.g. Series.dt.floor)."
        )
    return pos.astype(np.int64)


def fill_grid(frame, time, group, codes, step):
    """Insert rows of NaN for the grid steps missing inside each series.

    ``frame`` is sorted by (group code, time) with ``codes`` its group codes; the
    group column of an inserted row is its series' key. ``step`` in nanoseconds.
    """
    pieces = []
    for code in np.unique(codes):
        part = frame[codes == code].set_index(time)
        grid = pd.date_range(part.index[0], part.index[-1], freq=pd.Timedelta(step))
        part = part.reindex(grid).rename_axis(time)
        if group is not None:
            part[group] = frame.loc[codes == code, group].iloc[0]
        pieces.append(part.reset_index())
    return pd.concat(pieces, ignore_index=True)[frame.columns]
