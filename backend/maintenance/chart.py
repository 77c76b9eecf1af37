"""The run-history chart as plain geometry: runs in, panels of marks out.

The admin template (templates/maintenance/run_chart.html) draws the result as an inline
SVG. Drawn on the server rather than by a JavaScript charting library: the admin must
fetch nothing from the internet, a few hundred marks need no library, and geometry is
tested without a browser. Colours are the admin's CSS variables, so both themes work.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH = 960  # viewBox units; the SVG scales to its column
LEFT = 76  # room for the value labels
RIGHT = 28  # room for the last date label
TITLE = 30  # above each panel
BARS_HEIGHT = 92
LINE_HEIGHT = 64
DATES = 24  # under the last panel
BAR_WIDTH = 6.0
MIN_BAR = 2.0  # a run that deleted nothing still shows, as a sliver on the zero line
DATE_STEP = timedelta(days=15)


@dataclass(frozen=True)
class RunPoint:
    """One run's value in one series; `value` None: the run has no such figure (failed)."""

    run_id: int
    at: datetime
    outcome: str
    value: float | None
    title: str  # the tooltip


@dataclass(frozen=True)
class Series:
    """One panel's worth of data: a figure per run, drawn as bars or as a line of dots."""

    title: str
    points: Sequence[RunPoint]
    label: Callable[[float], str]  # a value as the axis shows it
    kind: str = "bars"  # or "line"
    binary: bool = False  # round the scale in powers of 1024 (bytes), not of 1000


@dataclass(frozen=True)
class Mark:
    run_id: int
    outcome: str
    x: float
    y: float  # top of the bar, or the dot's centre
    base: float  # the panel's zero line
    title: str
    missing: bool  # no figure: drawn as a cross on the zero line

    @property
    def height(self) -> float:
        """The bar's height, at least MIN_BAR."""
        return round(max(self.base - self.y, MIN_BAR), 1)

    @property
    def top(self) -> float:
        return round(self.base - self.height, 1)

    @property
    def left(self) -> float:
        """The left edge of the mark's bar, centred on its time."""
        return round(self.x - BAR_WIDTH / 2, 1)


@dataclass(frozen=True)
class Tick:
    at: float  # y of a value tick, x of a date tick
    label: str


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str
    top: float
    height: float
    marks: tuple[Mark, ...]
    ticks: tuple[Tick, ...]

    @property
    def base(self) -> float:
        return self.top + self.height

    @property
    def line(self) -> str:
        """The polyline through the dots of a line panel, in time order."""
        return " ".join(f"{m.x},{m.y}" for m in self.marks if not m.missing)


@dataclass(frozen=True)
class Chart:
    title: str
    width: float
    height: float
    left: float
    right: float
    bar_width: float
    panels: tuple[Panel, ...]
    dates: tuple[Tick, ...]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is >= `value` (1 when <= 0)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next((s * power for s in (1, 2, 2.5, 5) if s * power >= value), 10 * power)


def binary_ceiling(value: float) -> float:
    """`nice_ceiling` in the largest power of 1024 not above `value`: 3 MiB gives 5 MiB,
    and 900 MiB gives 1 GiB rather than 1000 MiB."""
    unit = 1024.0 ** max(0, math.floor(math.log(value, 1024))) if value >= 1 else 1.0
    ceiling = nice_ceiling(value / unit)
    return (1024 if ceiling > 500 else ceiling) * unit


def build_chart(title: str, series: Sequence[Series], *, since: datetime, until: datetime) -> Chart:
    """Lay out one panel per series, stacked on a shared time axis from `since` to `until`."""
    plot_width = WIDTH - LEFT - RIGHT
    span = (until - since).total_seconds()

    def x_of(at: datetime) -> float:
        share = (at - since).total_seconds() / span
        return round(LEFT + plot_width * min(1.0, max(0.0, share)), 1)

    panels, top = [], 0.0
    for one in series:
        height = BARS_HEIGHT if one.kind == "bars" else LINE_HEIGHT
        panels.append(_panel(one, top=top + TITLE, height=height, x_of=x_of))
        top += TITLE + height
    dates, at = [], since
    while at <= until:
        dates.append(Tick(x_of(at), at.strftime("%b %d")))
        at += DATE_STEP
    return Chart(
        title=title,
        width=WIDTH,
        height=top + DATES,
        left=LEFT,
        right=WIDTH - RIGHT,
        bar_width=BAR_WIDTH,
        panels=tuple(panels),
        dates=tuple(dates),
    )


def _panel(
    series: Series, *, top: float, height: float, x_of: Callable[[datetime], float]
) -> Panel:
    values = [p.value for p in series.points if p.value is not None]
    ceiling = (binary_ceiling if series.binary else nice_ceiling)(max(values, default=0.0))
    base = top + height

    def y_of(value: float) -> float:
        return round(base - height * value / ceiling, 1)

    marks = tuple(
        Mark(
            run_id=point.run_id,
            outcome=point.outcome,
            x=x_of(point.at),
            y=base if point.value is None else y_of(point.value),
            base=base,
            title=point.title,
            missing=point.value is None,
        )
        for point in sorted(series.points, key=lambda p: (p.at, p.run_id))
    )
    ticks = tuple(Tick(y_of(v), series.label(v)) for v in (0.0, ceiling / 2, ceiling))
    return Panel(series.title, series.kind, top, height, marks, ticks)
