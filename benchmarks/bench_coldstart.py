"""Cold start: import, first calls with and without the kernels' disk cache, and
``GridSearchCV(n_jobs=2)`` against ``n_jobs=1`` over the README pipeline.

Every figure is the median of ``--repeats`` fresh processes (5):

* ``import sklearn_multigran`` alone;
* the first ``fit_transform`` of 1,000 rows (a 1-minute series, granularities
  "15min", "1h", "1D", statistics mean, std, min, max) in a process whose cache
  directory is empty: it compiles the kernels and writes them to the cache;
* then, in the same process, a second, different set of statistics (mean, last),
  which needs another compiled variant of the sweep;
* the same first call in a fresh process once a previous process has filled the
  cache (warm cache);
* the README's ``GridSearchCV`` (5 sharings x ``TimeSeriesSplit(5)`` over
  ``make_seasonal_series(96 * 28, random_state=0)``), fitted with ``n_jobs=1`` and
  with ``n_jobs=2``, the cache warm: with ``n_jobs=2`` the workers are fresh
  processes too, and load the kernels from the cache instead of compiling them.

Each process gets its own ``XDG_CACHE_HOME`` (``NUMBA_CACHE_DIR`` unset), so no cache
of the machine is read. Run ``python benchmarks/bench_coldstart.py``; the table is
printed and written to ``doc/benchmarks.md`` between ``<!-- coldstart:start -->``
and ``<!-- coldstart:end -->``.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
DOC_PATH = REPO / "doc" / "benchmarks.md"
SECTION = "coldstart"
GRANULARITIES = ("15min", "1h", "1D")
FIRST_STATS = ("mean", "std", "min", "max")
SECOND_STATS = ("mean", "last")
N_ROWS = 1000
TARGETS = {"first": 1.5, "second": 0.5, "warm": 0.3}
ENV = {
    "SKLEARN_MULTIGRAN_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_CACHE_DIR": None,
    "SKLEARN_MULTIGRAN_CACHE": None,
}


def _frame():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"x": rng.standard_normal(N_ROWS).cumsum()},
        index=pd.date_range("2024-01-01", periods=N_ROWS, freq="1min"),
    )


def child_import():
    t0 = time.perf_counter()
    import sklearn_multigran  # noqa: F401

    return {"seconds": time.perf_counter() - t0}


def child_first_calls():
    """Import, then two first calls with different statistics; seconds of each."""
    t0 = time.perf_counter()
    from sklearn_multigran import GranularityTransformer

    t_import = time.perf_counter() - t0
    from sklearn_multigran._config import CACHE_DIR
    from sklearn_multigran._kernels._cache import CACHE

    X = _frame()
    figures = {"import": t_import, "cache": CACHE, "cache_dir": CACHE_DIR}
    for key, stats in (("first", FIRST_STATS), ("second", SECOND_STATS)):
        gt = GranularityTransformer(GRANULARITIES, stats=stats)
        t0 = time.perf_counter()
        gt.fit_transform(X)
        figures[key] = time.perf_counter() - t0
    return figures


def child_grid(n_jobs):
    """The README's grid search, timed from after the import."""
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

    from sklearn_multigran import make_multigranularity_pipeline
    from sklearn_multigran.datasets import make_seasonal_series

    series = make_seasonal_series(96 * 28, random_state=0)
    y = series["load"].shift(-4).ffill()
    pipeline = make_multigranularity_pipeline(
        ("1h", "6h", "1D"), stats=("mean", "std", "min", "max"), n_lags=2, alpha="auto"
    )
    grid = {"model__sharing": [0.0, 0.25, 0.5, 0.75, 1.0]}
    seconds = []
    for _ in range(2):
        # the second search finds joblib's workers started and the kernels loaded
        t0 = time.perf_counter()
        search = GridSearchCV(pipeline, grid, cv=TimeSeriesSplit(5), n_jobs=n_jobs)
        search.fit(series, y)
        seconds.append(time.perf_counter() - t0)
    return {
        "seconds": seconds[0],
        "again": seconds[1],
        "best_score": float(search.best_score_),
        "best_params": search.best_params_,
    }


CHILDREN = {
    "import": child_import,
    "first_calls": child_first_calls,
    "grid": child_grid,
}


def _median(runs, key):
    return statistics.median(run[key] for run in runs)


def _range(runs, key):
    values = [run[key] for run in runs]
    return f"{min(values):.2f} - {max(values):.2f}"


def measure(repeats, tmp):
    runs = {"import": [], "cold": [], "warm": [], "grid_1": [], "grid_2": []}
    warm_home = tmp / "warm"
    # fill the cache the warm runs and the grid searches read
    _harness.run_child(SCRIPT, "first_calls", env={**ENV, "XDG_CACHE_HOME": warm_home})
    _harness.run_child(
        SCRIPT, "grid", {"n_jobs": 1}, env={**ENV, "XDG_CACHE_HOME": warm_home}
    )
    for r in range(repeats):
        empty = {**ENV, "XDG_CACHE_HOME": tmp / f"empty_{r}"}
        warm = {**ENV, "XDG_CACHE_HOME": warm_home}
        runs["import"].append(_harness.run_child(SCRIPT, "import", env=empty))
        runs["cold"].append(_harness.run_child(SCRIPT, "first_calls", env=empty))
        runs["warm"].append(_harness.run_child(SCRIPT, "first_calls", env=warm))
        for n_jobs in (1, 2):
            runs[f"grid_{n_jobs}"].append(
                _harness.run_child(SCRIPT, "grid", {"n_jobs": n_jobs}, env=warm)
            )
        print(
            f"  repeat {r + 1}/{repeats}: import {runs['import'][-1]['seconds']:.2f} s, "
            f"first {runs['cold'][-1]['first']:.2f} s, "
            f"second {runs['cold'][-1]['second']:.2f} s, "
            f"warm {runs['warm'][-1]['first']:.2f} s, "
            f"grid n_jobs=1 {runs['grid_1'][-1]['seconds']:.1f} s, "
            f"n_jobs=2 {runs['grid_2'][-1]['seconds']:.1f} s",
            flush=True,
        )
    for run in runs["cold"] + runs["warm"]:
        if not run["cache"]:
            raise RuntimeError(f"the disk cache was off in a child: {run}")
    scores = {round(run["best_score"], 12) for run in runs["grid_1"] + runs["grid_2"]}
    if len(scores) != 1:
        raise RuntimeError(f"the grid searches disagree: {scores}")
    return runs


def _verdict(met):
    return "**met**" if met else "**missed**"


def build_report(runs, repeats, facts):
    first = _median(runs["cold"], "first")
    second = _median(runs["cold"], "second")
    warm = _median(runs["warm"], "first")
    grid_1 = _median(runs["grid_1"], "seconds")
    grid_2 = _median(runs["grid_2"], "seconds")
    rows = [
        [
            "`import sklearn_multigran`",
            f"{_median(runs['import'], 'seconds'):.2f}",
            _range(runs["import"], "seconds"),
            "",
        ],
        [
            "first `fit_transform`, 1,000 rows, empty disk cache (compiles)",
            f"{first:.2f}",
            _range(runs["cold"], "first"),
            f"{_verdict(first <= TARGETS['first'])} (<= {TARGETS['first']} s)",
        ],
        [
            "... then a second set of statistics, same process",
            f"{second:.2f}",
            _range(runs["cold"], "second"),
            f"{_verdict(second <= TARGETS['second'])} (<= {TARGETS['second']} s)",
        ],
        [
            "first `fit_transform`, 1,000 rows, warm disk cache",
            f"{warm:.2f}",
            _range(runs["warm"], "first"),
            f"{_verdict(warm <= TARGETS['warm'])} (<= {TARGETS['warm']} s)",
        ],
        [
            "README `GridSearchCV`, `n_jobs=1`, warm cache",
            f"{grid_1:.2f}",
            _range(runs["grid_1"], "seconds"),
            "",
        ],
        [
            "README `GridSearchCV`, `n_jobs=2`, warm cache",
            f"{grid_2:.2f}",
            _range(runs["grid_2"], "seconds"),
            f"{_verdict(grid_2 <= grid_1)} (<= `n_jobs=1`)",
        ],
        [
            "... a second search in the same process, `n_jobs=1`",
            f"{_median(runs['grid_1'], 'again'):.2f}",
            _range(runs["grid_1"], "again"),
            "",
        ],
        [
            "... a second search in the same process, `n_jobs=2` (workers started)",
            f"{_median(runs['grid_2'], 'again'):.2f}",
            _range(runs["grid_2"], "again"),
            "",
        ],
    ]
    table = _harness.markdown_table(
        ["cold start", "median s", "min - max s", "target"], rows, "lrrl"
    )
    return "\n".join(
        [
            "## Cold start (issue 12)",
            "",
            f"Median of {repeats} fresh processes each (the first two rows from one "
            f"process per repeat). 1,000 rows of a 1-minute series, granularities "
            f"{', '.join(GRANULARITIES)}; statistics {', '.join(FIRST_STATS)}, then "
            f"{', '.join(SECOND_STATS)}. Each process has its own "
            "`XDG_CACHE_HOME`: an empty one for the cold rows, one a previous process "
            "filled for the warm rows and the grid searches (whose `n_jobs=2` workers "
            "load the kernels from it). Times of the calls exclude the import. "
            "A search with `n_jobs=2` starts two worker processes, each of which "
            "imports numpy, pandas, scikit-learn, numba and the package before "
            "its first fit; the last two rows time a second search in the same "
            "process, once the workers are up.",
            "",
            table,
            "",
            facts,
            "",
            "Written by `python benchmarks/bench_coldstart.py`.",
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--doc", type=Path, default=DOC_PATH)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    loads = {"start": _harness.load_average()}
    with tempfile.TemporaryDirectory(prefix="bench_coldstart_") as tmp:
        runs = measure(args.repeats, Path(tmp))
    loads["end"] = _harness.load_average()
    facts = _harness.machine_facts(
        ["numpy", "pandas", "numba", "scikit-learn", "sklearn-multigran"],
        repo=REPO,
        loads=loads,
    )
    report = build_report(runs, args.repeats, facts)
    print(report)
    if not args.no_write:
        _harness.write_section(args.doc, SECTION, report)
        print(f"written to {args.doc}")


if __name__ == "__main__":
    if not _harness.child_main(CHILDREN):
        main()
