import numpy as np
import pytest
from hypothesis import settings

# No test may depend on the machine's speed: hypothesis' default 200 ms deadline
# fails examples that compile numba or run on a loaded machine, so no test has one.
settings.register_profile("sklearn-multigran", deadline=None)
settings.load_profile("sklearn-multigran")


@pytest.fixture
def rng():
    """A seeded generator; tests never touch numpy's global random state."""
    return np.random.default_rng(0)
