"""Parse and validate granularity specifications (numpy and pandas only)."""

import datetime
import numbers
import zoneinfo
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
    """One window: ``kind`` "rows" (``size`` rows), "time" (``size`` ns) or
    "calendar" (a :class:`CalendarPeriod`, ``size`` 0)."""

    name: str
    kind: str
    size: int


_UNITS = ("day", "week", "month")
_WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_NS_PER_DAY = 86_400 * 10**9


class CalendarPeriod:
    """A calendar period (day, week or month) of a time zone, as a granularity.

    Unlike a duration such as ``"1D"`` (24 hours back from each row), a calendar
    period follows the local calendar: a day is midnight to midnight in ``tz``,
    23 or 25 hours long across a DST change. For a row at time ``t``, lag 0 is its
    own period up to ``t`` and lag ``k >= 1`` the ``k``-th previous whole period.
    The strings ``"day"``, ``"week"`` and ``"month"`` are the periods of the
    times' own zone (weeks starting on Monday).

    Parameters
    ----------
    unit : {"day", "week", "month"}
        The period.
    tz : str, default=None
        IANA time zone such as ``"Europe/Berlin"``. Aware times are converted to
        it; naive times are read as local times of it (their calendar is the
        one written). None: the zone of aware times, or the naive calendar.
    week_start : str, default="monday"
        First day of a week, ``"monday"`` to ``"sunday"``; only for "week".

    Attributes
    ----------
    name : str
        Name in feature names: the unit, then ``"-<week_start>"`` for weeks not
        starting on Monday and ``"@<tz>"`` with a zone, e.g. ``"week-sunday@UTC"``.

    Examples
    --------
    >>> from sklearn_multigran import CalendarPeriod
    >>> CalendarPeriod("week", tz="Europe/Berlin", week_start="sunday").name
    'week-sunday@Europe/Berlin'
    >>> CalendarPeriod("day").name
    'day'
    """

    def __init__(self, unit, *, tz=None, week_start="monday"):
        if unit not in _UNITS:
            raise ValueError(
                f"CalendarPeriod unit={unit!r} is not a calendar period; use one of "
                f"{list(_UNITS)}, or a duration string such as '1D' for 24 hours."
            )
        if tz is not None:
            if not isinstance(tz, str):
                tz = str(tz)
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"CalendarPeriod tz={tz!r} is not an IANA time zone; use a name "
                    "such as 'Europe/Berlin' or 'UTC'."
                ) from None
        if not isinstance(week_start, str) or week_start.lower() not in _WEEKDAYS:
            raise ValueError(
                f"CalendarPeriod week_start={week_start!r} is not a weekday; use one "
                f"of {list(_WEEKDAYS)}."
            )
        if unit != "week" and week_start.lower() != "monday":
            raise ValueError(
                f"CalendarPeriod week_start={week_start!r} only applies to "
                f"unit='week', not {unit!r}; leave it at 'monday'."
            )
        self.unit = unit
        self.tz = tz
        self.week_start = week_start.lower()

    @property
    def name(self):
        name = self.unit
        if self.week_start != "monday":
            name += f"-{self.week_start}"
        if self.tz is not None:
            name += f"@{self.tz}"
        return name

    def __repr__(self):
        args = [repr(self.unit)]
        if self.tz is not None:
            args.append(f"tz={self.tz!r}")
        if self.week_start != "monday":
            args.append(f"week_start={self.week_start!r}")
        return f"CalendarPeriod({', '.join(args)})"

    def _key(self):
        return (self.unit, self.tz, self.week_start)

    def __eq__(self, other):
        return isinstance(other, CalendarPeriod) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def period_ids(self, times, time_zone):
        """Consecutive int64 period numbers of int64 ns ``times``.

        ``times`` are UTC nanoseconds when ``time_zone`` (the times' own zone) is
        not None, naive wall-clock nanoseconds otherwise. Aware times are turned
        into the wall clock of ``self.tz`` (or ``time_zone``): converting from UTC
        is never ambiguous, so this never raises on DST edges. The wall clock is
        then floored to the day, week or month. Day ``d`` (days since 1970-01-01)
        is id ``d``; weeks count from a week that starts on ``week_start``;
        month ids are ``12 * (year - 1970) + month - 1``.

        >>> t = pd.DatetimeIndex(["2024-03-31 00:30", "2024-03-31 23:30"],
        ...                      tz="Europe/Berlin").as_unit("ns").asi8
        >>> CalendarPeriod("day").period_ids(t, "Europe/Berlin").tolist()
        [19813, 19813]
        """
        times = np.asarray(times, dtype=np.int64)
        zone = self.tz if self.tz is not None else time_zone
        if time_zone is not None and zone is not None:
            wall = (
                pd.DatetimeIndex(times.view("datetime64[ns]"))
                .tz_localize("UTC")
                .tz_convert(zone)
                .tz_localize(None)
                .asi8
            )
        else:
            wall = times
        days = np.floor_divide(wall, _NS_PER_DAY)
        if self.unit == "day":
            return days
        if self.unit == "week":
            # 1970-01-01 was a Thursday: days since the Monday before it is d + 3
            shift = 3 - _WEEKDAYS.index(self.week_start)
            return np.floor_divide(days + shift, 7)
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def calendar_period(spec):
    """The :class:`CalendarPeriod` a granularity spec names, or None.

    >>> calendar_period("week")
    CalendarPeriod('week')
    >>> calendar_period("1D") is None
    True
    """
    if isinstance(spec, CalendarPeriod):
        return spec
    if isinstance(spec, str) and spec in _UNITS:
        return CalendarPeriod(spec)
    return None


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
        period = calendar_period(spec)
        if period is not None:
            parsed.append(Granularity(period.name, "calendar", 0))
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
            if first.kind == second.kind != "calendar" and first.size == second.size:
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
