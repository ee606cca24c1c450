"""The report's pieces: the best-so-far line, cell numbers, and escaping of what a run folder holds."""

from __future__ import annotations

from promptopt.report.html import esc, fixed, number, page
from promptopt.report.plots import History, history_png


def test_best_so_far_follows_the_direction():
    values = (0.5, 0.7, 0.6, 0.9, 0.1)
    assert History("q", True, (0, 1, 2, 3, 4), values, 0).best_so_far() == [0.5, 0.7, 0.7, 0.9, 0.9]
    assert History("kid", False, (0, 1, 2, 3, 4), values, 0).best_so_far() == [0.5, 0.5, 0.5, 0.5, 0.1]


def test_the_history_plot_is_a_png_even_without_the_baseline_trial():
    data = history_png(History("q", True, (3, 4), (0.2, 0.1), None))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_numbers_and_text_in_cells():
    assert [number(x, 3) for x in (0.78512, 1.0, 8.86e-07, None, "", 200.0)] == [
        "0.785",
        "1",
        "8.86e-07",
        "",
        "",
        "200",
    ]
    assert [fixed(x) for x in (0.89, 1, None, True)] == ["0.890", "1.000", "", ""]
    assert esc('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
    html = page("a <b>", "<p>x</p>", nav=[("polyp.html", "polyp")], heading="h")
    assert "<title>a &lt;b&gt;</title>" in html and '<a href="polyp.html">polyp</a>' in html and "<h1>h</h1>" in html
