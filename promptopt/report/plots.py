"""The report's plots, drawn with matplotlib (Agg, no display) and returned as PNG bytes to embed in the page."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#7f7f7f"


@dataclass(frozen=True)
class History:
    """One objective over a study's complete trials, in trial order."""

    name: str
    maximize: bool
    numbers: tuple[int, ...]
    values: tuple[float, ...]
    baseline: int | None  # the trial of the plain seed prompt

    def best_so_far(self) -> list[float]:
        pick = max if self.maximize else min
        out: list[float] = []
        for value in self.values:
            out.append(value if not out else pick(out[-1], value))
        return out


def _png(figure: object) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def history_png(history: History) -> bytes:
    """Each trial's objective, the best-so-far line, and the plain seed prompt's trial marked."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 3.2), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.scatter(history.numbers, history.values, s=18, color=BLUE, label="trial")
    axes.step(history.numbers, history.best_so_far(), where="post", color=ORANGE, label="best so far")
    if history.baseline is not None and history.baseline in history.numbers:
        value = history.values[history.numbers.index(history.baseline)]
        axes.axhline(value, color=GREY, linestyle="--", linewidth=1, label="plain seed prompt")
        axes.scatter([history.baseline], [value], s=70, marker="*", color="black", zorder=3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(xlabel="trial", ylabel=history.name, title=f"{history.name} ({'max' if history.maximize else 'min'}imise)")
    axes.legend(loc="lower right" if history.maximize else "upper right", fontsize=8)
    return _png(figure)


def importances_png(importances: dict[str, float]) -> bytes:
    """A horizontal bar per parameter, the most important on top."""
    from matplotlib.figure import Figure

    names: Sequence[str] = list(importances)[::-1]
    figure = Figure(figsize=(7, 0.35 * len(names) + 1.0), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.barh(names, [importances[n] for n in names], color=BLUE)
    axes.set(xlabel="importance (fANOVA, share of the objective's variance)", xlim=(0, 1))
    return _png(figure)
