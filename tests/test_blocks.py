import numpy as np
import pytest

from sklearn_multigran._blocks import BlockLayout, parse_feature_name, resolve_blocks


def _columns(layout):
    return [c.tolist() for c in layout.block_columns]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("OT__1h__mean__lag0", ("OT", "1h", "mean", 0)),
        ("gran__OT__1h__mean__lag12", ("gran__OT", "1h", "mean", 12)),
        ("a__b__c__OT__15min__std__lag1", ("a__b__c__OT", "15min", "std", 1)),
        ("OT__1h__mean__lagx", None),
        ("OT__1h__mean__lag", None),
        ("OT__1h__mean", None),
        ("__1h__mean__lag0", None),
        ("OT____mean__lag0", None),
        ("hour_of_day", None),
        (3, None),
    ],
)
def test_parse_feature_name(name, expected):
    assert parse_feature_name(name) == expected


def test_auto_groups_by_granularity_and_aligns_by_key():
    # The 1D block lists its features in another order and has an extra one, and a
    # calendar column sits in the middle: alignment is by key, extras are free.
    names = [
        "OT__1h__mean__lag0",
        "OT__1h__max__lag0",
        "hour",
        "OT__1D__max__lag0",
        "OT__1D__mean__lag0",
        "OT__1D__min__lag0",
        "OT__1h__mean__lag1",
    ]
    layout = resolve_blocks("auto", len(names), names)
    assert isinstance(layout, BlockLayout)
    assert layout.block_names == ["1h", "1D"]
    assert layout.keys == [("OT", "mean", 0), ("OT", "max", 0)]
    assert _columns(layout) == [[0, 1], [4, 3]]
    assert layout.free_columns.tolist() == [2, 5, 6]
    assert (layout.n_blocks, layout.n_per_block) == (2, 2)


def test_auto_block_order_is_first_appearance():
    names = ["x__1D__mean__lag0", "x__1h__mean__lag0", "x__15min__mean__lag0"]
    layout = resolve_blocks("auto", 3, names)
    assert layout.block_names == ["1D", "1h", "15min"]
    assert _columns(layout) == [[0], [1], [2]]


def test_auto_with_column_transformer_prefix():
    names = [
        "gran__OT__1h__mean__lag0",
        "gran__OT__1D__mean__lag0",
        "remainder__HUFL",
    ]
    layout = resolve_blocks("auto", 3, names)
    assert layout.keys == [("gran__OT", "mean", 0)]
    assert layout.free_columns.tolist() == [2]


def test_auto_duplicate_key_is_free():
    names = ["a__1h__mean__lag0", "a__1h__mean__lag0", "a__1D__mean__lag0"]
    layout = resolve_blocks("auto", 3, names)
    assert layout.n_blocks == 0
    assert layout.free_columns.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "names",
    [
        None,
        ["a", "b", "c"],
        ["a__1h__mean__lag0", "a__1h__std__lag0", "b"],
        # two granularities but no key present in both
        ["a__1h__mean__lag0", "a__1D__std__lag0", "b"],
    ],
)
def test_auto_fewer_than_two_blocks_means_all_free(names):
    layout = resolve_blocks("auto", 3, names)
    assert layout == BlockLayout([], layout.free_columns, [], [])
    assert layout.free_columns.tolist() == [0, 1, 2]
    assert (layout.n_blocks, layout.n_per_block) == (0, 0)


def test_int_blocks_are_contiguous():
    layout = resolve_blocks(3, 6)
    assert _columns(layout) == [[0, 1], [2, 3], [4, 5]]
    assert layout.free_columns.tolist() == []
    assert layout.block_names == ["block0", "block1", "block2"]
    assert layout.keys == [("pos0", None, None), ("pos1", None, None)]


def test_positional_keys_behave_as_their_list():
    # made on demand (a list of 5,000 cost a quarter of a wide fit), read as a list
    keys = resolve_blocks(2, 10).keys
    expected = [(f"pos{k}", None, None) for k in range(5)]
    assert len(keys) == 5
    assert list(keys) == expected
    assert keys == expected
    assert keys == tuple(expected)
    assert keys != expected[:4]
    assert keys != "pos0"
    assert keys[-1] == expected[-1]
    assert keys[1:4] == expected[1:4]
    assert keys[::-2] == expected[::-2]
    assert repr(keys) == repr(expected)
    assert ("pos3", None, None) in keys
    assert keys.index(("pos2", None, None)) == 2
    with pytest.raises(IndexError):
        keys[5]


def test_one_block_is_no_block():
    assert resolve_blocks(1, 4).n_blocks == 0
    assert resolve_blocks([[0, 1]], 4).free_columns.tolist() == [0, 1, 2, 3]


def test_list_blocks_leave_the_rest_free():
    layout = resolve_blocks([[4, 0], [1, 3]], 6)
    assert _columns(layout) == [[4, 0], [1, 3]]
    assert layout.free_columns.tolist() == [2, 5]


@pytest.mark.parametrize(
    ("blocks", "n_features", "match"),
    [
        (4, 6, r"blocks=4 must divide .* n_features=6"),
        ([[0, 1], [2]], 4, r"blocks\[0\] has 2, blocks\[1\] has 1"),
        ([[0, 1], [2, 9]], 4, r"blocks\[1\] holds column indices \[9\] outside"),
        ([[0, -1], [2, 3]], 4, r"blocks\[0\] holds column indices \[-1\]"),
        ([[0, 1], [1, 2]], 4, r"Columns \[1\] appear more than once"),
        ([[0.5, 1], [2, 3]], 4, r"blocks\[0\]=.* integer column indices"),
        ([[], []], 4, "must not be empty"),
    ],
)
def test_resolve_blocks_errors(blocks, n_features, match):
    with pytest.raises(ValueError, match=match):
        resolve_blocks(blocks, n_features)


def test_layout_indices_are_integer_arrays():
    for layout in (resolve_blocks(2, 4), resolve_blocks([[0], [1]], 3)):
        for columns in [*layout.block_columns, layout.free_columns]:
            assert isinstance(columns, np.ndarray)
            assert np.issubdtype(columns.dtype, np.integer)
