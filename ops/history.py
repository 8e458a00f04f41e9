"""The service's last days on the ops dashboard, drawn as SVG on the server.

    charts = service_history(days=14)   # one BatchGetItem of the daily counters
    {{ chart.svg }}                      # in the template: inline SVG, no script

The numbers come from ``dynamo.daily_stats`` (sharded daily counters written as events
happen), never from a Scan. The charts are plain SVG built here, inline in the page:
nothing is fetched from elsewhere and nothing runs in the browser, so the page works
offline and with JavaScript off. Every chart also carries its numbers as a table for
screen readers.
"""

from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from dynamo.daily_stats import DayStats, daily_stats

HISTORY_DAYS = 14
WIDTH, HEIGHT = 420, 160
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 22, 22  # room for the legend and the axis labels
COLOURS = {"primary": "#2f6f9f", "good": "#2e7d32", "bad": "#c62828", "second": "#ef6c00"}


@dataclass(frozen=True)
class Series:
    label: str
    values: list[int | None]
    colour: str


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    unit: str
    days: list[date]
    series: list[Series]
    kind: str  # "bars" (stacked) or "lines"

    @property
    def svg(self) -> SafeString:
        return render_svg(self)

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        """(day, one value per series) for the table under the chart."""
        return [
            (
                day.isoformat(),
                ["\N{EN DASH}" if s.values[i] is None else str(s.values[i]) for s in self.series],
            )
            for i, day in enumerate(self.days)
        ]


def service_history(*, days: int = HISTORY_DAYS, today: date | None = None) -> list[Chart]:
    stats = daily_stats().read(days=days, today=today)
    return charts_from(stats)


def charts_from(stats: list[DayStats]) -> list[Chart]:
    days = [s.day for s in stats]

    def counted(name: str) -> list[int | None]:
        return [s.count(name) for s in stats]

    def bars(slug: str, title: str, *series: Series) -> Chart:
        return Chart(slug, title, "per day", days, list(series), "bars")

    return [
        bars("signups", "Sign-ups", Series("sign-ups", counted("signups"), COLOURS["primary"])),
        bars("scans", "Scans", Series("scans", counted("scans"), COLOURS["primary"])),
        bars(
            "analyses",
            "Analyses by outcome",
            Series("complete", counted("analyses_complete"), COLOURS["good"]),
            Series("failed", counted("analyses_failed"), COLOURS["bad"]),
        ),
        Chart(
            "ai-latency",
            "AI latency",
            "ms",
            days,
            [
                Series("p50", [s.latency_percentile(0.5) for s in stats], COLOURS["primary"]),
                Series("p95", [s.latency_percentile(0.95) for s in stats], COLOURS["second"]),
            ],
            "lines",
        ),
        bars(
            "chat", "Chat replies", Series("replies", counted("chat_replies"), COLOURS["primary"])
        ),
    ]


def coordinate(value: float) -> str:
    return f"{value:.1f}"


def render_svg(chart: Chart) -> SafeString:
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if chart.kind == "bars":
        totals = [sum(s.values[i] or 0 for s in chart.series) for i in range(len(chart.days))]
    else:
        totals = [v or 0 for s in chart.series for v in s.values]
    top_value = max([*totals, 1])
    step = plot_width / max(len(chart.days), 1)

    def y(value: float) -> float:
        return TOP + plot_height - plot_height * value / top_value

    shapes: list[SafeString] = []
    if chart.kind == "bars":
        for i, day in enumerate(chart.days):
            base = 0
            for series in chart.series:
                value = series.values[i] or 0
                if value:
                    shapes.append(
                        format_html(
                            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                            "<title>{} {}: {}</title></rect>",
                            coordinate(LEFT + i * step + step * 0.15),
                            coordinate(y(base + value)),
                            coordinate(step * 0.7),
                            coordinate(y(base) - y(base + value)),
                            series.colour,
                            day.isoformat(),
                            series.label,
                            value,
                        )
                    )
                base += value
    else:
        for series in chart.series:
            points = [
                (LEFT + i * step + step / 2, y(v))
                for i, v in enumerate(series.values)
                if v is not None
            ]
            if points:
                shapes.append(
                    format_html(
                        '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>',
                        series.colour,
                        " ".join(f"{px:.1f},{py:.1f}" for px, py in points),
                    )
                )
                shapes.append(
                    format_html_join(
                        "",
                        '<circle cx="{}" cy="{}" r="2.5" fill="{}"/>',
                        ((coordinate(px), coordinate(py), series.colour) for px, py in points),
                    )
                )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (coordinate(LEFT + i * step + step / 2), HEIGHT - 6, day.strftime("%d %b"))
            for i, day in enumerate(chart.days)
            if (len(chart.days) - 1 - i) % 3 == 0  # the last day always, evenly spaced
        ),
    )
    legend = format_html_join(
        "",
        '<tspan fill="{}">■ {}</tspan> ',
        ((s.colour, s.label) for s in chart.series),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-labelledby="chart-{slug}-title" font-size="10" font-family="sans-serif">'
        '<title id="chart-{slug}-title">{title} ({unit}), last {n} days</title>'
        '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#888"/>'
        '<text x="{label_x}" y="{top_y}" text-anchor="end">{top}</text>'
        '<text x="{label_x}" y="{base}" text-anchor="end">0</text>'
        '<text x="{right}" y="12" text-anchor="end">{legend}</text>'
        "{shapes}{labels}</svg>",
        w=WIDTH,
        h=HEIGHT,
        slug=chart.slug,
        title=chart.title,
        unit=chart.unit,
        n=len(chart.days),
        left=LEFT,
        right=WIDTH - RIGHT,
        base=TOP + plot_height,
        label_x=LEFT - 4,
        top_y=TOP + 8,
        top=top_value,
        legend=legend,
        shapes=mark_safe("".join(shapes)),  # noqa: S308 (each piece built by format_html)
        labels=labels,
    )
