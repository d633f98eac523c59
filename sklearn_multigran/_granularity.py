"""Parse and validate granularity specifications (numpy and pandas only)."""

import datetime
import numbers
from typing import NamedTuple

import numpy as np
import pandas as pd

# largest unit first, so a duration gets its shortest exact alias ("90min", not
# "5400s")
_ALIAS_UNITS = (
    ("D", 86_400 * 10**9),
    ("h", 3_600 * 10**9),
    ("min", 60 * 10**9),
    ("s", 10**9),
    ("ms", 10**6),
    ("us", 10**3),
    ("ns", 1),
)


class Granularity(NamedTuple):
    """One window length: ``kind`` "rows" (``size`` rows) or "time" (``size`` ns)."""

    name: str
    kind: str
    size: int


def duration_alias(nanoseconds):
    """Short pandas-style alias of a duration in nanoseconds.

    >>> duration_alias(90 * 60 * 10**9)
    '90min'
    >>> duration_alias(86_400 * 10**9)
    '1D'
    """
    for unit, length in _ALIAS_UNITS:
        if nanoseconds % length == 0:
            return f"{nanoseconds // length}{unit}"
    raise AssertionError("unreachable: every integer is a multiple of 1 ns")


def parse_granularities(granularities, param="granularities"):
    """Turn the ``granularities`` parameter into a list of :class:`Granularity`.

    Ints are row counts, named ``str(k)``; strings are durations parsed by
    ``pandas.Timedelta`` and keep the name as given; ``Timedelta``,
    ``datetime.timedelta`` and ``numpy.timedelta64`` are durations named by their
    short alias. ``param`` names the parameter in error messages.

    >>> parse_granularities(["15min", 4, pd.Timedelta(hours=1)])
    [Granularity(name='15min', kind='time', size=900000000000), \
Granularity(name='4', kind='rows', size=4), \
Granularity(name='1h', kind='time', size=3600000000000)]
    """
    if isinstance(granularities, (str, numbers.Integral)) or not np.iterable(
        granularities
    ):
        raise ValueError(
            f"{param}={granularities!r} must be a list or tuple of "
            "granularities, e.g. ('1h', '1D') or (4, 24)."
        )
    granularities = list(granularities)
    if not granularities:
        raise ValueError(
            f"{param} is empty; give at least one, e.g. ('1h', '1D') or (4, 24)."
        )
    parsed = []
    for spec in granularities:
        if isinstance(spec, (bool, np.bool_)):
            raise ValueError(
                f"{param} contains {spec!r}; a granularity is a positive int "
                "(rows) or a duration such as '1h'."
            )
        if isinstance(spec, numbers.Integral) and not isinstance(spec, np.timedelta64):
            size = int(spec)
            if size <= 0:
                raise ValueError(
                    f"{param} contains {size}; a row window must be a "
                    "positive number of rows."
                )
            parsed.append(Granularity(str(size), "rows", size))
            continue
        if isinstance(spec, str):
            try:
                delta = pd.Timedelta(spec)
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"{param} contains {spec!r}, which is not a duration "
                    f"pandas can parse ({exc}); use e.g. '15min', '1h' or '1D', or "
                    "an int for a window counted in rows."
                ) from None
            name = spec
        elif isinstance(spec, (pd.Timedelta, datetime.timedelta, np.timedelta64)):
            delta = pd.Timedelta(spec)
            name = None
        else:
            raise ValueError(
                f"{param} contains {spec!r} of type {type(spec).__name__}; a "
                "granularity is a positive int (rows), a duration string such as "
                "'1h', or a pandas.Timedelta."
            )
        if delta is pd.NaT or delta.value <= 0:
            raise ValueError(f"{param} contains {spec!r}; a duration must be positive.")
        size = int(delta.value)
        parsed.append(Granularity(name or duration_alias(size), "time", size))

    for i, first in enumerate(parsed):
        for second in parsed[i + 1 :]:
            if first.kind == second.kind and first.size == second.size:
                raise ValueError(
                    f"{param} {granularities[parsed.index(first)]!r} and "
                    f"{granularities[parsed.index(second)]!r} are the same window; "
                    "remove one of them."
                )
            if first.name == second.name:
                raise ValueError(
                    f"{param} {first.name!r} (rows) and {second.name!r} name "
                    "two windows alike; give the duration another spelling."
                )
    for granularity in parsed:
        if "__" in granularity.name:
            raise ValueError(
                f"{param} name {granularity.name!r} contains '__', which "
                "separates the parts of feature names; spell it without '__'."
            )
    return parsed
