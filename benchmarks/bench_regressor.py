"""MultiGranularityRegressor: fit time against Ridge, hot paths, coefficient recovery.

Three measurements (issues 3 and 12):

1. **Fit time.** ``n`` rows (default 1,000,000), 3 blocks of 40 features, float64,
   C order. ``Ridge(alpha=1.0)`` (default solver) on the 120 concatenated columns
   against ``MultiGranularityRegressor(blocks=3)`` with a fixed (sharing, alpha) and
   with ``sharing="auto", alpha="auto"`` (11 x 17 GCV candidates). Each fit is timed
   ``--repeats`` times in turn, in one process, and the best time is kept: on a
   shared machine the minimum is the figure least disturbed by other work.
   ``StandardScaler + Ridge`` is shown too, since that is what the model computes
   when there are no blocks.
2. **Recovery.** ``make_multigranularity_regression`` with 3 blocks of 10 features,
   true sharing 0.5 and 0.8, noise 3: for each training size, the relative
   coefficient error ``|coef_ - coef| / |coef|`` and the R^2 on 20,000 fresh rows of
   the same problem, mean and standard error over ``--seeds`` draws, for the tuned
   sharing (``"auto"`` with the default criterion, the marginal likelihood, and with
   ``criterion="gcv"``), for sharing 0 and 1, and for the true sharing; alpha is
   ``"auto"`` everywhere. Every model sees the same draws, so the last columns give
   the paired difference between the tuned model and the better of the two extremes
   in that row, with its standard error.

3. **Hot paths**, each run in a fresh process (``_harness``), repeated round-robin,
   median reported, with the peak resident memory the call adds: ``predict`` on
   ``--predict-n`` rows (default 1,000,000) x 120 columns for ``Ridge`` and for the
   model, also with a NaN in 1% of the rows (only those rows are imputed); and the
   fit of ``--fit-n`` rows (default 10,000,000) x 120 with 1 and 2 BLAS threads
   (``threadpoolctl`` limits; the Gram pass runs on as many threads as BLAS may
   use). Targets: ``predict`` at most 1.2x ``Ridge.predict``; the 2-thread fit at
   most 0.6x the 1-thread fit.

Run ``python benchmarks/bench_regressor.py`` (``--help`` for options). The tables are
printed and written into ``doc/benchmarks.md`` between ``<!-- regressor:start -->``
and ``<!-- regressor:end -->``; other sections of that file are left alone.
``--dual-only`` runs only the fits with fewer rows than columns and rewrites only
their rows, between ``<!-- regressor-dual:start -->`` and ``<!-- regressor-dual:end
-->`` inside that section.
"""

import argparse
import os
import platform
import time
from pathlib import Path

import _harness
import numpy as np
import sklearn
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_multigran import MultiGranularityRegressor
from sklearn_multigran.datasets import make_multigranularity_regression

SCRIPT = Path(__file__).resolve()
DOC_PATH = SCRIPT.parents[1] / "doc" / "benchmarks.md"
N_COLUMNS = 120  # 3 blocks of 40
RIDGE = "Ridge(alpha=1.0)"
DUAL_SECTION = "regressor-dual"
NOISE = 3.0


def time_fits(n_samples, n_blocks, n_per_block, repeats, blas_threads, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_blocks * n_per_block))
    y = X @ rng.standard_normal(X.shape[1]) + rng.standard_normal(n_samples)
    fits = {
        RIDGE: lambda: Ridge(alpha=1.0).fit(X, y),
        "StandardScaler + Ridge": lambda: make_pipeline(
            StandardScaler(), Ridge(alpha=1.0)
        ).fit(X, y),
        "MGR(sharing=0.5, alpha=1.0)": lambda: MultiGranularityRegressor(
            sharing=0.5, alpha=1.0, blocks=n_blocks
        ).fit(X, y),
        'MGR(sharing="auto", alpha="auto")': lambda: MultiGranularityRegressor(
            sharing="auto", alpha="auto", blocks=n_blocks
        ).fit(X, y),
    }
    times = {(name, limit): [] for limit in blas_threads for name in fits}
    # Interleave the repeats so that a burst of load on the machine hits every fit.
    for _ in range(repeats):
        for limit in blas_threads:
            with threadpool_limits(limits=limit, user_api="blas"):
                for name, fit in fits.items():
                    start = time.perf_counter()
                    fit()
                    times[name, limit].append(time.perf_counter() - start)
    return {key: min(t) for key, t in times.items()}


def _hot_data(n_samples, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, N_COLUMNS))
    y = X @ rng.standard_normal(N_COLUMNS) + rng.standard_normal(n_samples)
    return X, y


def predict_child(model, n_samples, nan_rows):
    """Fresh process: time one ``predict`` on ``n_samples`` rows."""
    X, y = _hot_data(n_samples)
    estimator = (
        Ridge(alpha=1.0) if model == "Ridge" else MultiGranularityRegressor(blocks=3)
    )
    estimator.fit(X[:20_000], y[:20_000])
    if nan_rows:
        rows = np.random.default_rng(1).choice(
            n_samples, int(nan_rows * n_samples), replace=False
        )
        X[rows, 5] = np.nan
    estimator.predict(X[:1000])  # first-call costs out of the way
    _, figures = _harness.measure(estimator.predict, X)
    return figures


def fit_child(n_samples, threads):
    """Fresh process: time one fit of ``n_samples`` rows on ``threads`` BLAS threads."""
    X, y = _hot_data(n_samples)
    model = MultiGranularityRegressor(sharing=0.5, alpha=1.0, blocks=3)
    model.fit(X[:1000], y[:1000])
    with threadpool_limits(limits=threads, user_api="blas"):
        _, figures = _harness.measure(model.fit, X, y)
    return figures


WIDE_SHAPES = ((50, 6_000), (30, 15_000))
WIDE_MODELS = {
    "`Ridge(alpha=1.0)`": lambda: Ridge(alpha=1.0),
    "`MGR(sharing=0.5, alpha=1.0)`": lambda: MultiGranularityRegressor(
        sharing=0.5, alpha=1.0, blocks=3
    ),
    '`MGR(sharing="auto", alpha="auto")`': lambda: MultiGranularityRegressor(
        sharing="auto", alpha="auto", blocks=3
    ),
}


def wide_child(n_samples, n_features, model, fits=9):
    """Fresh process: the fastest of ``fits`` fits of a wide problem (p >> n).

    Such a fit takes milliseconds, so one call is mostly timer and scheduler noise;
    the minimum of several, after one warm-up fit, is the cost of the computation.
    """
    import warnings

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features))
    y = X[:, :10].sum(axis=1) + rng.standard_normal(n_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "auto" on a grid edge
        WIDE_MODELS[model]().fit(X, y)
        seconds = []
        for _ in range(fits):
            estimator = WIDE_MODELS[model]()
            start = time.perf_counter()
            estimator.fit(X, y)
            seconds.append(time.perf_counter() - start)
    return {"seconds": min(seconds)}


CHILDREN = {"predict": predict_child, "fit": fit_child, "wide": wide_child}

PREDICT_CASES = {
    "`Ridge.predict`": {"model": "Ridge", "nan_rows": 0.0},
    "`MultiGranularityRegressor.predict`": {"model": "MGR", "nan_rows": 0.0},
    "`MultiGranularityRegressor.predict`, NaN in 1% of rows": {
        "model": "MGR",
        "nan_rows": 0.01,
    },
}


def hot_paths(predict_n, fit_n, repeats, dual_only=False):
    """Median figures of every case, from ``repeats`` fresh processes each.

    ``dual_only``: only the fits with fewer rows than columns.
    """
    cases = {}
    if not dual_only:
        cases = {
            ("predict", name): ("predict", {**kwargs, "n_samples": predict_n})
            for name, kwargs in PREDICT_CASES.items()
        }
        for threads in (1, 2):
            cases["fit", threads] = ("fit", {"n_samples": fit_n, "threads": threads})
    for shape in WIDE_SHAPES:
        for model in WIDE_MODELS:
            cases["wide", shape, model] = (
                "wide",
                {"n_samples": shape[0], "n_features": shape[1], "model": model},
            )
    runs = {key: [] for key in cases}
    for _ in range(repeats):  # round-robin: a burst of load hits every case
        for key, (child, kwargs) in cases.items():
            runs[key].append(
                _harness.run_child_undisturbed(SCRIPT, child, kwargs, timeout=900)
            )
    return {
        key: {
            "seconds": _harness.summarise(r)["median"],
            "cpu_seconds": _harness.summarise(r, "cpu_seconds")["median"]
            if "cpu_seconds" in r[0]
            else None,
            "peak_mib": _harness.summarise(r, "peak_delta")["median"] / 2**20
            if "peak_delta" in r[0]
            else None,
            "n": len(r),
        }
        for key, r in runs.items()
    }


def format_dual(hot, loads):
    """The dual's paragraph and table, with the load and revision of its own run.

    Between its own markers inside the regressor section, so that ``--dual-only``
    can rewrite these rows alone (see :func:`write_dual_section`).
    """
    n = hot["wide", WIDE_SHAPES[0], next(iter(WIDE_MODELS))]["n"]
    wide_rows = []
    for shape in WIDE_SHAPES:
        ridge = hot["wide", shape, "`Ridge(alpha=1.0)`"]["seconds"]
        for model in WIDE_MODELS:
            seconds = hot["wide", shape, model]["seconds"]
            wide_rows.append(
                [
                    model,
                    f"{shape[0]} x {shape[1]:,}",
                    f"{seconds * 1e3:.1f}",
                    f"{seconds / ridge:.2f}",
                ]
            )
    load = ", ".join(
        f"{when} {value:.1f}" for when, value in loads.items() if value is not None
    )
    return "\n\n".join(
        [
            "Fewer rows than columns (the fit solves in the n-dimensional dual): "
            "fastest of 9 fits after a warm-up, in each of "
            f"{n} fresh processes, median over the processes; 3 blocks, "
            "default BLAS threads. Target: at most 3x `Ridge` for a fixed "
            '(sharing, alpha) and for `"auto"` (11 x 17 candidates). Before the '
            'dual, p = 6,000 and n = 50 with `"auto"` took 974 s.',
            _harness.markdown_table(
                ["fit", "rows x columns", "ms", "/ Ridge"], wide_rows, "lrrr"
            ),
            f"These rows: 1-minute load average {load}; revision "
            f"`{_harness._git_revision(SCRIPT.parents[1])}`.",
        ]
    )


def _dual_block(text):
    return f"<!-- {DUAL_SECTION}:start -->\n{text.strip()}\n<!-- {DUAL_SECTION}:end -->"


def write_dual_section(text, path=DOC_PATH):
    """Replace the dual's rows alone, between their markers in the regressor section."""
    doc = path.read_text()
    start, end = f"<!-- {DUAL_SECTION}:start -->", f"<!-- {DUAL_SECTION}:end -->"
    if start not in doc or end not in doc:
        raise SystemExit(
            f"{path} has no {start} ... {end} block to update: run the whole "
            "benchmark once (without --dual-only) to write the section with it."
        )
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(head + _dual_block(text) + tail)


def format_hot_paths(hot, predict_n, fit_n, facts, loads):
    ridge = hot["predict", "`Ridge.predict`"]["seconds"]
    rows = [
        [
            name,
            f"{predict_n:,} x {N_COLUMNS}",
            f"{hot['predict', name]['seconds']:.3f}",
            f"{hot['predict', name]['seconds'] / ridge:.2f}",
            f"{hot['predict', name]['peak_mib']:.0f}",
        ]
        for name in PREDICT_CASES
    ]
    one = hot["fit", 1]["seconds"]
    for threads in (1, 2):
        r = hot["fit", threads]
        rows.append(
            [
                f"`MultiGranularityRegressor.fit`, {threads} BLAS thread"
                + ("s" * (threads > 1))
                + f" ({r['seconds'] / one:.2f}x the 1-thread fit, "
                f"CPU {r['cpu_seconds']:.1f} s)",
                f"{fit_n:,} x {N_COLUMNS}",
                f"{r['seconds']:.3f}",
                "",
                f"{r['peak_mib']:.0f}",
            ]
        )
    n = hot["fit", 1]["n"]
    wide = _dual_block(format_dual(hot, loads))
    return "\n\n".join(
        [
            "Hot paths: each figure the median of "
            f"{n} fresh processes, run round-robin; *peak + MiB* is the rise of the "
            "peak resident memory during the call (the input itself is "
            f"{predict_n * N_COLUMNS * 8 / 2**20:,.0f} MiB for predict, "
            f"{fit_n * N_COLUMNS * 8 / 2**30:,.1f} GiB for fit). Targets: "
            "`predict` at most 1.2x `Ridge.predict`; with 2 BLAS threads the fit at "
            "most 0.6x its 1-thread time. float64, C order, `blocks=3`, "
            "`sharing=0.5, alpha=1.0`.",
            _harness.markdown_table(
                ["call", "rows x columns", "median s", "/ Ridge", "peak + MiB"],
                rows,
                "lrrrr",
            ),
            wide,
            facts,
        ]
    )


def recovery(sizes, seeds, true_sharings, noise=3.0, n_test=20_000):
    rows = []
    for sharing, n in [(s, n) for s in true_sharings for n in sizes]:
        models = {
            "tuned": {"sharing": "auto"},
            "tuned GCV": {"sharing": "auto", "criterion": "gcv"},
            "sharing=0": {"sharing": 0.0},
            "sharing=1": {"sharing": 1.0},
            # what tuning the sharing costs: the true value, given
            "oracle": {"sharing": sharing},
        }
        err = {m: [] for m in models}
        r2 = {m: [] for m in models}
        chosen = []
        for seed in range(seeds):
            X, y, truth = make_multigranularity_regression(
                n + n_test,
                n_blocks=3,
                n_features_per_block=10,
                sharing=sharing,
                noise=noise,
                random_state=seed,
            )
            X_train, y_train, X_test, y_test = X[:n], y[:n], X[n:], y[n:]
            for name, params in models.items():
                reg = MultiGranularityRegressor(alpha="auto", blocks=3, **params)
                reg.fit(X_train, y_train)
                err[name].append(
                    np.linalg.norm(reg.coef_ - truth.coef) / np.linalg.norm(truth.coef)
                )
                r2[name].append(r2_score(y_test, reg.predict(X_test)))
                if name == "tuned":
                    chosen.append(reg.sharing_)
        rows.append(
            {
                "true_sharing": sharing,
                "n": n,
                "err": {m: np.array(v) for m, v in err.items()},
                "r2": {m: np.array(v) for m, v in r2.items()},
                "sharing": np.mean(chosen),
            }
        )
    return rows


def _mean_se(values):
    return np.mean(values), np.std(values, ddof=1) / np.sqrt(len(values))


def _versus_best_extreme(values, better):
    """Paired mean and standard error of tuned minus the better extreme's values."""
    extremes = [values["sharing=0"], values["sharing=1"]]
    best = better([np.mean(v) for v in extremes])
    return _mean_se(values["tuned"] - extremes[best])


def format_tables(timing, timing_config, rows, recovery_config, hot_text):
    n, G, p, repeats, blas_threads = timing_config
    names = list(dict.fromkeys(name for name, _ in timing))
    header = "| fit |" + "".join(
        f" {_threads(t)}: time (s) | / Ridge |" for t in blas_threads
    )
    lines = [
        f"Fit time, n = {n:,} rows, {G} blocks of {p} features (float64), best of "
        f"{repeats}; {os.cpu_count()} CPUs shared with other work, Python "
        f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}. Ratios are to `Ridge` with the same BLAS threads.",
        "",
        header,
        "|---|" + "---:|---:|" * len(blas_threads),
    ]
    for name in names:
        cells = "".join(
            f" {timing[name, t]:.2f} | {timing[name, t] / timing[RIDGE, t]:.2f} |"
            for t in blas_threads
        )
        lines.append(f"| `{name}` |{cells}")
    seeds, noise = recovery_config
    order = ["tuned", "tuned GCV", "sharing=0", "sharing=1", "oracle"]
    heads = ["tuned", "tuned GCV", "s=0", "s=1", "true s"]
    lines += [
        "",
        "Recovery of partly shared coefficients: `make_multigranularity_regression`, "
        f"3 blocks of 10 features, noise {noise}; mean ± standard error over {seeds} "
        "seeds (the same draws for every model). Coefficient error is "
        "`|coef_ - coef| / |coef|`; R^2 on 20,000 test rows of the same problem. "
        '`alpha="auto"` in every column; *tuned* is `sharing="auto"` with the '
        "default criterion (marginal likelihood), *tuned GCV* the same with "
        '`criterion="gcv"`; *true s* fixes the sharing at the generator\'s value '
        "(not available in practice). *Δ vs best extreme* is the paired mean "
        "difference between *tuned* and the better of s=0 and s=1 in that row "
        "(negative error, positive R^2: the tuned model is better). *tuned s* is "
        "the mean sharing chosen.",
        "",
        "| true sharing | n |"
        + "".join(f" error {h} |" for h in heads)
        + " Δ error vs best extreme |"
        + "".join(f" R^2 {h} |" for h in heads)
        + " Δ R^2 vs best extreme | tuned s |",
        "|---:|---:|" + "---:|" * (2 * len(heads) + 3),
    ]
    for row in rows:
        cells = []
        for key, better in [("err", np.argmin), ("r2", np.argmax)]:
            for m in order:
                mean, se = _mean_se(row[key][m])
                cells.append(f" {mean:.3f} ± {se:.3f} |")
            mean, se = _versus_best_extreme(row[key], better)
            cells.append(f" {mean:+.3f} ± {se:.3f} |")
        lines.append(
            f"| {row['true_sharing']} | {row['n']:,} |{''.join(cells)}"
            f" {row['sharing']:.2f} |"
        )
    lines += ["", hot_text, "", "Written by `python benchmarks/bench_regressor.py`."]
    return "\n".join(lines)


def _threads(limit):
    return "default BLAS threads" if limit is None else f"{limit} BLAS thread"


def write_section(text, path=DOC_PATH):
    """Replace the text between the regressor markers (``_harness.write_section``)."""
    _harness.write_section(path, "regressor", text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[40, 60, 100, 200, 500, 2000]
    )
    parser.add_argument("--true-sharing", type=float, nargs="+", default=[0.5, 0.8])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--predict-n", type=int, default=1_000_000)
    parser.add_argument("--fit-n", type=int, default=10_000_000)
    parser.add_argument("--hot-repeats", type=int, default=5)
    parser.add_argument(
        "--hot-only", action="store_true", help="only the hot paths; implies --no-write"
    )
    parser.add_argument(
        "--dual-only",
        action="store_true",
        help="only the fits with fewer rows than columns; rewrites only their rows "
        "(and their load line) in the doc, unless --no-write",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only, leave the doc alone"
    )
    args = parser.parse_args(argv)

    loads = {"start": _harness.load_average()}
    if args.dual_only:
        hot = hot_paths(args.predict_n, args.fit_n, args.hot_repeats, dual_only=True)
        loads["end"] = _harness.load_average()
        text = format_dual(hot, loads)
        print(text)
        if not args.no_write:
            write_dual_section(text)
        return
    hot = hot_paths(args.predict_n, args.fit_n, args.hot_repeats)
    loads["end"] = _harness.load_average()
    facts = _harness.machine_facts(
        ["numpy", "scipy", "scikit-learn", "threadpoolctl"],
        repo=SCRIPT.parents[1],
        loads=loads,
    )
    hot_text = format_hot_paths(hot, args.predict_n, args.fit_n, facts, loads)
    if args.hot_only:
        print(hot_text)
        return

    rows = recovery(args.sizes, args.seeds, args.true_sharing, noise=NOISE)
    blas_threads = (None, 1)
    timing = time_fits(args.n_samples, 3, 40, args.repeats, blas_threads)
    text = format_tables(
        timing,
        (args.n_samples, 3, 40, args.repeats, blas_threads),
        rows,
        (args.seeds, NOISE),
        hot_text,
    )
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    if not _harness.child_main(CHILDREN):
        main()
