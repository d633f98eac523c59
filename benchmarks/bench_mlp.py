"""MLP submodels: fit time per epoch and test score against scikit-learn's MLPs.

Issue 4's benchmark. ``--n-samples`` training rows (default 200,000) and a quarter as
many test rows, 3 blocks of 40 features: ``X_g = sqrt(c) U + sqrt(1 - c) E_g`` with a
common ``U`` and the block's own ``E_g`` (standard normal, ``c = 0.5``), as
``make_multigranularity_regression`` draws them. The truth is a teacher of the model's
own family: every block has a ``tanh`` network with 16 hidden units whose weights
blend a shared and an own draw with sharing 0.7, and the target sums them (plus noise
for the regression; the classes are the argmax of three such logits plus Gumbel
noise, i.e. a draw from their softmax).

``MLPRegressor`` / ``MLPClassifier`` see the 120 concatenated columns; the
multi-granularity models see the same array with ``blocks=3``. Both use Adam with
sklearn's defaults (minibatches of 200, learning rate 1e-3, ``alpha=1e-4``) and the
same hidden size, and both run exactly ``--epochs`` epochs (``n_iter_no_change`` is
set above it), so their losses and fit times compare epoch for epoch. Every model is
fit once per seed (``--seeds``; the seed draws the data and the initial weights);
the fastest fit is kept for the time, since on a shared machine the minimum is the
figure least disturbed by other work, and the test scores are averaged. Time per
epoch is the whole fit (validation, scaling, stacking included) over ``n_iter_``.

Run ``python benchmarks/bench_mlp.py`` (``--help`` for options). The table is printed
and written into ``doc/benchmarks.md`` between ``<!-- mlp:start -->`` and
``<!-- mlp:end -->``; other sections of that file are left alone.
"""

import argparse
import os
import platform
import subprocess
import time
import warnings
from importlib import metadata
from pathlib import Path

import _harness
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_multigran import (
    MultiGranularityMLPClassifier,
    MultiGranularityMLPRegressor,
)

ROOT = Path(__file__).resolve().parents[1]
DOC_PATH = ROOT / "doc" / "benchmarks.md"
TRUE_SHARING = 0.7
TEACHER_HIDDEN = 16


def machine_facts():
    """CPUs, load, versions and revision, as a markdown list."""
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("numpy", "scipy", "scikit-learn")
    )
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"- {os.cpu_count()} CPUs, load average at start {load}",
            f"- Python {platform.python_version()}, {versions}",
            f"- revision: `{revision or 'unknown'}`",
        ]
    )


def markdown_table(header, rows, align):
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def write_section(text, path=DOC_PATH, name="mlp"):
    """Replace the text between this script's markers (``_harness.write_section``)."""
    _harness.write_section(path, name, text)


def make_problem(n_samples, n_blocks, n_per_block, task, seed=0):
    """Blocks ``(n, G * p)`` and a target from a blended teacher network per block."""
    rng = np.random.default_rng(seed)
    c = 0.5
    common = rng.standard_normal((n_samples, n_per_block))
    X = np.hstack(
        [
            np.sqrt(c) * common
            + np.sqrt(1 - c) * rng.standard_normal((n_samples, n_per_block))
            for _ in range(n_blocks)
        ]
    )
    n_out = 1 if task == "regression" else 3
    s = TRUE_SHARING
    shared = [
        rng.standard_normal((n_per_block, TEACHER_HIDDEN)) / np.sqrt(n_per_block),
        rng.standard_normal((TEACHER_HIDDEN, n_out)) / np.sqrt(TEACHER_HIDDEN),
    ]
    raw = np.zeros((n_samples, n_out))
    for g in range(n_blocks):
        W1, W2 = (
            s * S + (1 - s) * rng.standard_normal(S.shape) * S.std() for S in shared
        )
        block = X[:, g * n_per_block : (g + 1) * n_per_block]
        raw += np.tanh(block @ W1) @ W2
    raw *= 3 / raw.std()
    if task == "regression":
        return X, raw[:, 0] + rng.standard_normal(n_samples)
    return X, (raw + rng.gumbel(size=raw.shape)).argmax(axis=1)


def models(task, epochs, n_blocks, hidden, seed):
    # the same optimiser settings for both; tol=0 and n_iter_no_change above the
    # epoch count make every model run exactly `epochs` epochs
    common = dict(
        hidden_layer_sizes=hidden,
        solver="adam",
        alpha=1e-4,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    if task == "regression":
        return {
            "MLPRegressor": MLPRegressor(**common),
            "MultiGranularityMLPRegressor": MultiGranularityMLPRegressor(
                blocks=n_blocks, sharing=0.5, **common
            ),
        }
    return {
        "MLPClassifier": MLPClassifier(**common),
        "MultiGranularityMLPClassifier": MultiGranularityMLPClassifier(
            blocks=n_blocks, sharing=0.5, **common
        ),
    }


def run(task, n_samples, n_blocks, n_per_block, hidden, epochs, seeds):
    """Fit every model once per seed (data and initial weights); the fastest fit of
    each model and its mean test scores over the seeds."""
    n_test = n_samples // 4
    runs = {}
    for seed in range(seeds):
        X, y = make_problem(n_samples + n_test, n_blocks, n_per_block, task, seed)
        X_train, X_test = X[:n_samples], X[n_samples:]
        y_train, y_test = y[:n_samples], y[n_samples:]
        for name, estimator in models(task, epochs, n_blocks, hidden, seed).items():
            with warnings.catch_warnings():
                # every fit stops at max_iter on purpose
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                estimator.fit(X_train, y_train)
                seconds = time.perf_counter() - start
            if task == "regression":
                score = r2_score(y_test, estimator.predict(X_test))
                extra = np.nan
            else:
                score = accuracy_score(y_test, estimator.predict(X_test))
                extra = log_loss(y_test, estimator.predict_proba(X_test))
            runs.setdefault(name, []).append(
                dict(
                    per_epoch=seconds / estimator.n_iter_,
                    n_iter=estimator.n_iter_,
                    score=score,
                    log_loss=extra,
                )
            )
    # the seeds pair the models: same data, so the difference of their scores is
    # far less noisy than either score
    reference = np.array([r["score"] for r in next(iter(runs.values()))])
    return {
        name: dict(
            per_epoch=min(r["per_epoch"] for r in rs),
            n_iter=rs[0]["n_iter"],
            score=np.mean([r["score"] for r in rs]),
            gain=np.mean([r["score"] for r in rs] - reference),
            gain_sd=np.std([r["score"] for r in rs] - reference),
            log_loss=np.mean([r["log_loss"] for r in rs]),
        )
        for name, rs in runs.items()
    }


def table(results):
    rows = []
    for task, by_model in results.items():
        reference = next(iter(by_model.values()))
        for name, r in by_model.items():
            rows.append(
                [
                    task,
                    f"`{name}`",
                    f"{r['n_iter']}",
                    f"{r['per_epoch']:.3f}",
                    f"{r['per_epoch'] / reference['per_epoch']:.2f}",
                    f"{r['score']:.4f}",
                    f"{r['gain']:+.4f} ± {r['gain_sd']:.4f}",
                    "" if np.isnan(r["log_loss"]) else f"{r['log_loss']:.4f}",
                ]
            )
    return markdown_table(
        [
            "task",
            "model",
            "epochs",
            "s / epoch",
            "/ sklearn",
            "test R^2 or accuracy",
            "- sklearn's",
            "test log loss",
        ],
        rows,
        align="llrrrrrr",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--n-blocks", type=int, default=3)
    parser.add_argument("--n-per-block", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave the doc alone"
    )
    args = parser.parse_args(argv)
    facts = machine_facts()
    hidden = (args.hidden,)
    results = {
        task: run(
            task,
            args.n_samples,
            args.n_blocks,
            args.n_per_block,
            hidden,
            args.epochs,
            args.seeds,
        )
        for task in ("regression", "classification")
    }
    text = "\n\n".join(
        [
            f"Adam, {args.n_samples:,} training rows and {args.n_samples // 4:,} test "
            f"rows, {args.n_blocks} blocks of {args.n_per_block} features, hidden "
            f"layer {hidden}, {args.epochs} epochs each; {args.seeds} seeds (data "
            "and initial weights): fastest fit, mean test score, and mean ± sd over "
            "the seeds of its difference to scikit-learn's on the same data. "
            "scikit-learn's MLPs see the concatenated blocks; the "
            "multi-granularity models (`sharing=0.5`) one network per block. The "
            f"truth is a blended `tanh` teacher per block with sharing {TRUE_SHARING} "
            "(see the script's docstring). *s / epoch* is the whole fit time over "
            "the epochs, */ sklearn* its ratio to scikit-learn's MLP on the same task.",
            table(results),
            facts,
            "Written by `python benchmarks/bench_mlp.py`.",
        ]
    )
    print(text)
    if not args.no_write:
        write_section("## MLP submodels\n\n" + text)


if __name__ == "__main__":
    main()
