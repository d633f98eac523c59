import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator; tests never touch numpy's global random state."""
    return np.random.default_rng(0)
