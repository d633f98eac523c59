"""make_multigranularity_pipeline: features and model in one call."""

from sklearn.pipeline import Pipeline

from sklearn_multigran._regressor import MultiGranularityRegressor
from sklearn_multigran._transformer import GranularityTransformer


def make_multigranularity_pipeline(
    granularities=("1h", "1D"), *, memory=None, verbose=False, **params
):
    """Build ``GranularityTransformer`` followed by ``MultiGranularityRegressor``.

    The pipeline's output is set to pandas, so the regressor sees the transformer's
    ``{column}__{granularity}__{stat}__lag{k}`` column names and finds one block per
    granularity with ``blocks="auto"``. The steps are named ``"features"`` and
    ``"model"``, so their parameters are tuned as ``features__n_lags`` or
    ``model__sharing``.

    Parameters
    ----------
    granularities : sequence of str, default=("1h", "1D")
        Passed to ``GranularityTransformer``.

    memory : str or object with the joblib.Memory interface, default=None
        Passed to :class:`~sklearn.pipeline.Pipeline`.

    verbose : bool, default=False
        Passed to :class:`~sklearn.pipeline.Pipeline` (timing of each step).

    **params
        Keyword arguments of either step: those that are parameters of
        :class:`~sklearn_multigran.MultiGranularityRegressor` (``sharing``,
        ``alpha``, ``blocks``, ``criterion``, ...) go to the model,
        every other one to ``GranularityTransformer`` (``stats``, ``n_lags``,
        ``time_column``, ...).

    Returns
    -------
    pipeline : Pipeline
        ``Pipeline([("features", GranularityTransformer(...)),
        ("model", MultiGranularityRegressor(...))]).set_output(transform="pandas")``.
        For MLP submodels, replace the step:
        ``pipeline.set_params(model=MultiGranularityMLPRegressor(...))``.

    Examples
    --------
    >>> from sklearn_multigran import make_multigranularity_pipeline
    >>> pipe = make_multigranularity_pipeline(
    ...     ("1h", "1D"), stats=("mean",), time_column="date", sharing="auto"
    ... )
    >>> [name for name, _ in pipe.steps]
    ['features', 'model']
    >>> pipe.get_params()["model__sharing"], pipe.get_params()["features__stats"]
    ('auto', ('mean',))
    """
    model_keys = set(MultiGranularityRegressor().get_params(deep=False))
    model_params = {k: v for k, v in params.items() if k in model_keys}
    feature_params = {k: v for k, v in params.items() if k not in model_keys}
    return Pipeline(
        [
            ("features", GranularityTransformer(granularities, **feature_params)),
            ("model", MultiGranularityRegressor(**model_params)),
        ],
        memory=memory,
        verbose=verbose,
    ).set_output(transform="pandas")
