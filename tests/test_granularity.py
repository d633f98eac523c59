"""Parsing of granularity specifications."""

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sklearn_multigran._granularity import duration_alias, parse_granularities


@given(st.integers(1, 10**15))
def test_alias_parses_back_to_the_same_duration(nanoseconds):
    assert pd.Timedelta(duration_alias(nanoseconds)).value == nanoseconds


@pytest.mark.parametrize(
    "spec",
    [pd.Timedelta(hours=2), datetime.timedelta(hours=2), np.timedelta64(120, "m")],
)
def test_duration_objects_are_named_by_alias(spec):
    (granularity,) = parse_granularities([spec])
    assert granularity == ("2h", "time", 2 * 3600 * 10**9)


def test_strings_keep_their_spelling_and_ints_count_rows():
    parsed = parse_granularities(("15min", "1D", 7))
    assert [g.name for g in parsed] == ["15min", "1D", "7"]
    assert [g.size for g in parsed] == [pd.Timedelta("15min").value, 86400 * 10**9, 7]
    assert [g.kind for g in parsed] == ["time", "time", "rows"]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("1h", "must be a list or tuple"),
        ([], "is empty"),
        ([True], "positive int"),
        ([1.5], "of type float"),
        (["60min", pd.Timedelta(hours=1)], "are the same window"),
        ([3, 3], "are the same window"),
        (["0s"], "must be positive"),
    ],
)
def test_invalid_granularities(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_granularities(spec)
