"""The report notebooks' helpers (l2tww.report.figures) and their tables' markdown, rendered as
the HTML report renders it: a `|` in a header once left a whole table as raw `| a | b |` text."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest

from l2tww.io import write_json
from l2tww.report import figures
from l2tww.report.evidence import _gain_text
from l2tww.report.tables import md_table
from l2tww.statistics import stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def _html(markdown: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune  # what the HTML exporter uses

    return markdown2html_mistune(markdown)


def test_a_pipe_in_a_header_or_a_cell_still_renders_a_table():
    header = ["target", "max |Δλ/λ₀| (mean)", "dead λ (pair-runs)"]
    html = _html(md_table(header, [["animal", "a | b", "0 / 4"]]))
    assert "<table>" in html and "<th>max |Δλ/λ₀| (mean)</th>" in html and "<td>a | b</td>" in html
    text = re.sub(r"<[^>]+>", "", html)
    assert not re.search(r"^\s*\|", text, re.M), text  # no line of raw markdown table left


def test_parse_pair_reads_source_index_source_tap_and_target_tap():
    assert figures.parse_pair("s0.5-t2") == (0, 5, 2)
    assert figures.parse_pair("s1.14-t0") == (1, 14, 0)


def test_pair_matrix_places_each_pair_and_leaves_nan_where_none():
    mat, rows, cols = figures.pair_matrix(["a", "b"], ["s0.4-t0", "s0.4-t2", "s1.9-t2"], [1.0, 2.0, 3.0])
    assert rows == ["a tap 4", "b tap 9"] and cols == ["tap 0", "tap 2"]
    assert mat[0].tolist() == [1.0, 2.0] and mat[1, 1] == 3.0 and np.isnan(mat[1, 0])


def test_at_best_takes_each_seed_at_its_own_best_epoch():
    logs = [
        {"epochs": [0, 1, 2], "lambda": [[0, 0], [1, 2], [9, 9]]},
        {"epochs": [0, 1, 2], "lambda": [[3, 4], [0, 0], [0, 0]]},
    ]
    members = [{"best_epoch": 1}, {"best_epoch": 0}]
    assert figures.at_best(members, logs, "lambda").tolist() == [2.0, 3.0]


def test_mean_curve_cuts_seeds_to_the_shortest_and_gives_the_sample_std(tmp_path):
    for seed, accs in enumerate([[10, 20, 30], [20, 40]]):
        write_json(tmp_path / f"s{seed}" / "history.json", [{"val_acc": a} for a in accs])
    runs = [{"history": str(tmp_path / f"s{seed}" / "history.json")} for seed in (0, 1)]
    mean, std = figures.mean_curve(runs, "val_acc")
    assert mean.tolist() == [15.0, 30.0] and std == pytest.approx([np.std([10, 20], ddof=1), np.std([20, 40], ddof=1)])
    one, zero = figures.mean_curve(runs[1:], "val_acc")
    assert one.tolist() == [20.0, 40.0] and zero.tolist() == [0.0, 0.0]


def test_heatmap_writes_a_value_per_pair_white_on_the_dark_end():
    fig, ax = plt.subplots()
    mat = np.array([[0.0, 1.0], [np.nan, 0.5]])
    figures.heatmap(ax, mat, ["r0", "r1"], ["c0", "c1"], "magma_r", 0.0, 1.0, "{:.2f}")
    texts = {t.get_text(): t.get_color() for t in ax.texts}
    plt.close(fig)
    assert texts == {"0.00": "k", "1.00": "w", "0.50": "k"}  # no text where there is no pair


def test_evolution_draws_one_line_per_pair_averaged_over_seeds():
    fig, ax = plt.subplots()
    logs = [{"epochs": [0, 1], "lambda": [[1, 2], [3, 4]]}, {"epochs": [0, 1], "lambda": [[3, 2], [5, 4]]}]
    figures.evolution(ax, logs, "lambda", ["s0.1-t0", "s0.1-t1"])
    lines = ax.get_lines()
    plt.close(fig)
    assert [line.get_label() for line in lines] == ["s0.1-t0", "s0.1-t1"]
    assert lines[0].get_ydata().tolist() == [2.0, 4.0] and lines[1].get_ydata().tolist() == [2.0, 4.0]


def test_fewer_than_three_seeds_give_no_interval_and_no_marker():
    two = stats.mean_ci([-33.3, -33.3])  # two agreeing seeds: a zero-width interval below 0
    assert _gain_text(two, 2) == "-33.3 (n too small for an interval)"
    three = stats.mean_ci([-30.0, -33.0, -36.0])
    assert _gain_text(three, 3).endswith("▼") and "[" in _gain_text(three, 3)
