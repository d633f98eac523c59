"""Resolve the ``blocks`` parameter into aligned column indices (numpy only).

A *block* is the set of columns that describe the data at one granularity. The models
share coefficients between blocks position by position, so every block must list the
same features in the same order: position ``k`` of every block holds the same
``(column, stat, lag)`` at that block's granularity. Columns that belong to no block are
*free*: they get ordinary coefficients.

``GranularityTransformer`` names its outputs
``{column}__{granularity}__{stat}__lag{k}``; a ``ColumnTransformer`` or ``FeatureUnion``
may prepend ``{prefix}__``. Names are therefore parsed from the right: the last three
``__``-separated parts are the granularity, the statistic and ``lag{k}``, and everything
before them, prefix included, is the column.
Granularity specs never contain ``__``, so this split is unambiguous.
"""

import re
from collections.abc import Sequence
from numbers import Integral
from typing import NamedTuple

import numpy as np

_LAG_RE = re.compile(r"lag(\d+)")


class BlockLayout(NamedTuple):
    """Columns of each granularity block, aligned position by position.

    Attributes
    ----------
    block_columns : list of ndarray of int
        One array per block, all of the same length ``n_per_block``; entry ``k`` of
        every array is the input column holding aligned feature ``k`` in that block.
        Empty when there are fewer than two blocks.
    free_columns : ndarray of int
        Input columns that belong to no block, in increasing order.
    block_names : list of str
        One name per block: the granularity for names parsed from a DataFrame,
        ``"block0"``, ``"block1"``, ... otherwise.
    keys : list of tuple
        One ``(column, stat, lag)`` per aligned position. For layouts not parsed from
        feature names, ``column`` is ``"pos{k}"`` and ``stat`` and ``lag`` are None.
    """

    block_columns: list
    free_columns: np.ndarray
    block_names: list
    keys: list

    @property
    def n_blocks(self):
        return len(self.block_columns)

    @property
    def n_per_block(self):
        return len(self.block_columns[0]) if self.block_columns else 0


def parse_feature_name(name):
    """Split a ``{column}__{granularity}__{stat}__lag{k}`` name.

    Parameters
    ----------
    name : str
        A feature name, possibly with a ``{prefix}__`` in front.

    Returns
    -------
    parsed : tuple of (str, str, str, int) or None
        ``(column, granularity, stat, lag)``, or None when the name does not follow
        the pattern (fewer than four parts, an empty part, or no ``lag{k}`` suffix).

    Examples
    --------
    >>> from sklearn_multigran._blocks import parse_feature_name
    >>> parse_feature_name("gran__OT__1h__mean__lag0")
    ('gran__OT', '1h', 'mean', 0)
    >>> parse_feature_name("hour_of_day") is None
    True
    """
    parts = str(name).rsplit("__", 3)
    if len(parts) != 4 or not all(parts):
        return None
    column, granularity, stat, lag = parts
    match = _LAG_RE.fullmatch(lag)
    if match is None:
        return None
    return column, granularity, stat, int(match.group(1))


def _no_blocks(n_features):
    return BlockLayout([], np.arange(n_features), [], [])


def _layout_from_names(feature_names):
    # Group by granularity in order of first appearance; inside a granularity, map
    # each (column, stat, lag) key to its input column. A key seen twice in the same
    # granularity has no unambiguous partner, so both copies become free features.
    by_granularity = {}
    duplicated = set()
    for j, name in enumerate(feature_names):
        parsed = parse_feature_name(name)
        if parsed is None:
            continue
        column, granularity, stat, lag = parsed
        key = (column, stat, lag)
        columns = by_granularity.setdefault(granularity, {})
        if key in columns:
            duplicated.add((granularity, key))
        else:
            columns[key] = j
    for granularity, key in duplicated:
        del by_granularity[granularity][key]

    if len(by_granularity) < 2:
        return _no_blocks(len(feature_names))
    names = list(by_granularity)
    # Aligned positions follow the first block's column order, so that the shared
    # coefficients read in the order the transformer wrote the features.
    keys = [
        key
        for key in by_granularity[names[0]]
        if all(key in by_granularity[g] for g in names[1:])
    ]
    if not keys:
        return _no_blocks(len(feature_names))
    block_columns = [
        np.array([by_granularity[g][key] for key in keys], dtype=np.intp) for g in names
    ]
    in_block = np.zeros(len(feature_names), dtype=bool)
    for columns in block_columns:
        in_block[columns] = True
    return BlockLayout(block_columns, np.flatnonzero(in_block == 0), names, keys)


class _PositionKeys(Sequence):
    """The keys ``[("pos0", None, None), ...]`` of a positional layout, made on demand.

    A list of them cost 0.8 ms at 5,000 positions, a quarter of a whole fit with
    fewer rows than columns, and nothing in a fit reads them.
    """

    __slots__ = ("_n",)

    def __init__(self, n):
        self._n = n

    def __len__(self):
        return self._n

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self._n))]
        k = range(self._n)[k]  # IndexError and negative indices as for a list
        return (f"pos{k}", None, None)

    def __eq__(self, other):
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return repr(list(self))


def _positional_layout(block_columns, n_features):
    if len(block_columns) < 2:
        return _no_blocks(n_features)
    in_block = np.zeros(n_features, dtype=bool)
    for columns in block_columns:
        in_block[columns] = True
    n_per_block = len(block_columns[0])
    return BlockLayout(
        block_columns,
        np.flatnonzero(in_block == 0),
        [f"block{g}" for g in range(len(block_columns))],
        _PositionKeys(n_per_block),
    )


def resolve_blocks(blocks, n_features, feature_names=None):
    """Turn the ``blocks`` parameter into a :class:`BlockLayout`.

    Parameters
    ----------
    blocks : "auto", int or list of list of int
        - ``"auto"``: parse ``feature_names`` (see :func:`parse_feature_name`); group
          the columns by granularity and align them by ``(column, stat, lag)``.
          Columns that do not parse, or whose key is missing from some block, are
          free. Without feature names there are no blocks.
        - int ``G``: ``G`` equal contiguous blocks covering all the columns.
        - list of lists of column indices: one list per block, aligned position by
          position; the remaining columns are free.

        With fewer than two blocks every column is free.
    n_features : int
        Number of input columns.
    feature_names : array-like of str or None
        Input column names (``feature_names_in_``), or None for a plain array.

    Returns
    -------
    layout : BlockLayout

    Raises
    ------
    ValueError
        If an int does not divide ``n_features``, or if listed blocks have unequal
        sizes, repeat a column, or name a column outside ``[0, n_features)``.

    Examples
    --------
    >>> from sklearn_multigran._blocks import resolve_blocks
    >>> names = ["OT__1h__mean__lag0", "OT__1D__mean__lag0", "hour"]
    >>> layout = resolve_blocks("auto", 3, names)
    >>> layout.block_names, [c.tolist() for c in layout.block_columns]
    (['1h', '1D'], [[0], [1]])
    >>> layout.free_columns.tolist(), layout.keys
    ([2], [('OT', 'mean', 0)])
    >>> [c.tolist() for c in resolve_blocks(2, 4).block_columns]
    [[0, 1], [2, 3]]
    """
    if isinstance(blocks, str):
        # "auto" is the only string the estimators' parameter constraints allow.
        if feature_names is None:
            return _no_blocks(n_features)
        return _layout_from_names(list(feature_names))

    if isinstance(blocks, Integral):
        if blocks < 1 or n_features % blocks:
            raise ValueError(
                f"blocks={blocks} must divide the number of features into equal "
                f"contiguous blocks, but n_features={n_features}. Pass a divisor of "
                f"{n_features}, a list of column-index lists, or 'auto'."
            )
        size = n_features // blocks
        return _positional_layout(
            [np.arange(g * size, (g + 1) * size) for g in range(blocks)], n_features
        )

    block_columns = []
    for g, columns in enumerate(blocks):
        arr = np.asarray(columns)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(
                f"blocks[{g}]={columns!r} must be a flat list of integer column "
                "indices."
            )
        arr = arr.astype(np.intp)
        bad = arr[(arr < 0) | (arr >= n_features)]
        if bad.size:
            raise ValueError(
                f"blocks[{g}] holds column indices {bad.tolist()} outside "
                f"[0, {n_features}); the input has n_features={n_features}."
            )
        block_columns.append(arr)

    sizes = [len(c) for c in block_columns]
    if len(set(sizes)) > 1:
        described = ", ".join(f"blocks[{g}] has {s}" for g, s in enumerate(sizes))
        raise ValueError(
            "All blocks must hold the same number of aligned columns, but "
            f"{described}. Position k of every block must be the same feature at "
            "that block's granularity."
        )
    if sizes and sizes[0] == 0:
        raise ValueError("blocks must not be empty lists of columns.")
    if block_columns:
        flat = np.concatenate(block_columns)
        unique, counts = np.unique(flat, return_counts=True)
        if (counts > 1).any():
            raise ValueError(
                f"Columns {unique[counts > 1].tolist()} appear more than once in "
                "blocks; each column may belong to at most one block position."
            )
    return _positional_layout(block_columns, n_features)
