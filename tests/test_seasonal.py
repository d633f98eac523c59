"""The seasonal demo series against its closed form."""

import numpy as np
import pandas as pd

from sklearn_multigran.datasets import make_seasonal_series


def test_noise_free_series_is_the_closed_form():
    frame = make_seasonal_series(96 * 14, noise=0.0, random_state=0)
    days = np.arange(len(frame)) / 96
    expected = (
        10
        + 3 * np.sin(2 * np.pi * days)
        + 1.5 * np.sin(2 * np.pi * days / 7)
        + 0.5 * days / days.max()
    )
    np.testing.assert_allclose(frame["load"], expected, atol=1e-12)
    assert frame.index.freq == pd.Timedelta("15min")


def test_panel_layout_and_seed():
    panel = make_seasonal_series(50, n_series=4, random_state=1)
    assert panel.groupby("series").size().tolist() == [50] * 4
    pd.testing.assert_frame_equal(
        panel, make_seasonal_series(50, n_series=4, random_state=1)
    )
    assert (panel.groupby("series")["time"].diff().dropna() == "15min").all()
