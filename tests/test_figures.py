"""The report's shared figures: a colour of its own per method, and the forest plot of the claims."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from l2tww.report import figures  # noqa: E402


def test_every_method_gets_a_colour_of_its_own_in_params_order():
    methods = [f"m{i}" for i in range(25)]  # more than tab10's 10 and tab20's 20
    colours = figures.method_colours(methods)
    assert len(set(colours.values())) == 25 and list(colours) == methods
    assert figures.method_colours(["b", "a"])["b"] == figures.method_colours(["b", "z"])["b"]  # by position
    with pytest.raises(ValueError, match="41 methods, 40 distinct colours"):
        figures.method_colours([f"m{i}" for i in range(41)])


def test_the_forest_plot_has_a_line_and_a_verdict_per_row_with_an_interval():
    rows = [
        {"id": "a@n25", "mean": 0.5, "low": 0.1, "high": 0.9, "margin": 1.0, "verdict": "supported and equivalent"},
        {"id": "b@n25", "mean": -3.0, "low": -4.0, "high": -2.0, "margin": 1.0, "verdict": "contradicted"},
        {"id": "c", "mean": None, "low": None, "high": None, "verdict": "not run"},
        {"id": "d@n5", "mean": 0.2, "low": -1.0, "high": 1.4, "margin": None, "verdict": "descriptive"},
    ]
    fig = figures.forest(rows)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["d@n5", "b@n25", "a@n25"]
    assert [t.get_text() for t in ax.texts] == ["descriptive", "contradicted", "supported and equivalent"]
    assert len(ax.collections) >= 2 + 3  # two margin bands (d has none), three interval lines
    assert figures.forest([rows[2]]) is None
