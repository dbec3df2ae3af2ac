"""The error-budget chart: an inline SVG drawn on the server (no JavaScript, nothing loaded from elsewhere)."""

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import format_html
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


def budget_colour(remaining: float) -> str:
    """Green with more than half the budget left, amber while some is left, red once it is spent."""
    return "#1e7a3c" if remaining > 0.5 else "#b26a00" if remaining > 0 else "#b3261e"


def budget_chart_svg(*, points: Sequence[tuple[datetime, float]], allowed_seconds: float, title: str) -> SafeString:
    """The share of the budget left over the window, from `points` of (instant, bad seconds spent so far).

    100% at the top; the dashed line is 0%, and an overspent budget goes below it.
    """
    remaining = [1 - spent / allowed_seconds if allowed_seconds else 0.0 for _, spent in points]
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0
    floor = min(0.0, *remaining)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + plot_w * (at - start).total_seconds() / span

    def y(share: float) -> float:
        return TOP + plot_h * (1 - share) / (1 - floor)

    line = " ".join(f"{x(at):.1f},{y(share):.1f}" for (at, _), share in zip(points, remaining, strict=True))
    area = f"{x(start):.1f},{y(floor):.1f} {line} {x(end):.1f},{y(floor):.1f}"
    left_now = remaining[-1]
    colour = budget_colour(left_now)
    return format_html(
        '<svg class="budget-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" '
        'aria-labelledby="budget-chart-title">'
        '<title id="budget-chart-title">{title}: {left} of the error budget left</title>'
        '<line x1="{l}" y1="{top}" x2="{r}" y2="{top}" stroke="#d5dbe3"/>'
        '<line x1="{l}" y1="{zero}" x2="{r}" y2="{zero}" stroke="#8a94a3" stroke-dasharray="4 3"/>'
        '<polygon points="{area}" fill="{colour}" fill-opacity="0.12"/>'
        '<polyline class="budget-line" points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>'
        '<text x="{lx}" y="{top_text}" text-anchor="end" font-size="11">100%</text>'
        '<text x="{lx}" y="{zero_text}" text-anchor="end" font-size="11">0%</text>'
        '<text x="{l}" y="{date_y}" font-size="11">{start}</text>'
        '<text x="{r}" y="{date_y}" text-anchor="end" font-size="11">now: {left} left</text>'
        "</svg>",
        w=WIDTH, h=HEIGHT, title=title, left=f"{left_now:.0%}", l=LEFT, r=WIDTH - RIGHT, top=f"{y(1):.1f}",
        zero=f"{y(0):.1f}", area=area, colour=colour, line=line, lx=LEFT - 6, top_text=f"{y(1) + 4:.1f}",
        zero_text=f"{y(0) + 4:.1f}", date_y=HEIGHT - 8, start=f"{start:%b %d}",
    )  # fmt: skip
