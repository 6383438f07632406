"""The downloads page's HTML: a view in, a document out. Pure.

Strategy: one function per part of the page, each escaping what it writes (through
:mod:`._escape`; links through ``urlencode``), so no text reaches the markup unescaped.
Everything is in the document as the server sends it: the chart (our SVG), its numbers
as a table (the chart's text alternative, which the SVG names with
``aria-describedby``), the weekly totals, the split by version and today's count. The
one script (``page/live.js``) only keeps today's count up to date: without it the page
is whole. Native controls only (a form, links, ``<details>``), so a keyboard reaches
everything; the layout is one column that fits 375 px, the wide tables scroll inside
their own box.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ._escape import attribute, text
from ._figures import VersionShare, Week
from ._svg import STYLES, Series, grouped, line_chart

#: Ranges up to this many days show their daily table open; longer ones behind a click.
OPEN_TABLE_DAYS = 31
QUICK_PERIODS = (("last-week", "Last week"), ("last-month", "Last month"), ("last-year", "Last year"))


@dataclass(frozen=True)
class PackageView:
    name: str
    values: Sequence[int]  #: one per day of the range
    weeks: Sequence[Week]
    versions: Sequence[VersionShare]
    today: int  #: today's live count so far

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True)
class PageView:
    query: str  #: what the search box holds
    start: dt.date
    end: dt.date
    today: dt.date
    refresh_seconds: int
    packages: Sequence[PackageView] = ()
    missing: Sequence[str] = ()  #: names asked for that the store does not know
    suggestions: Sequence[str] = ()  #: known names that start as the missing one does
    errors: Sequence[str] = field(default_factory=list)

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;margin:0 auto;max-width:64rem;
padding:0 1rem 2rem;color:#1f2328;line-height:1.45}
h1{font-size:1.5rem;margin:1rem 0 .5rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}h3{font-size:1rem}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
form label{display:flex;flex-direction:column;font-size:.9rem;flex:1 1 9rem}
form label.packages{flex:3 1 16rem}
input,button{font:inherit;padding:.4rem;border:1px solid #8c959f;border-radius:4px;min-height:2.5rem}
button{background:#1f6feb;color:#fff;border-color:#1f6feb;padding:.4rem 1rem}
a:focus,input:focus,button:focus,summary:focus{outline:3px solid #0969da;outline-offset:2px}
nav ul,.legend,.live-list,.suggestions{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
figure{margin:0}
@media (max-width:40rem){svg.chart .axes text{font-size:20px}}
svg.chart{width:100%;height:auto;display:block}
.table-wrap{overflow-x:auto;max-width:100%;position:relative}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:.2rem .6rem;text-align:right;border-bottom:1px solid #d0d7de;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
.bar{display:inline-block;height:.7rem;background:#1f6feb;vertical-align:middle}
th small{display:block;font-weight:400}
.error{border-left:4px solid #d1242f;padding:.25rem .75rem;background:#ffebe9}
output.live{font-weight:600;font-size:1.2rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
"""


def render_page(view: PageView) -> str:
    title = "Downloads" + (": " + ", ".join(p.name for p in view.packages) if view.packages else "")
    body = [
        "<header>",
        "<h1>Package downloads</h1>",
        _search_form(view),
        _period_links(view),
        "</header>",
        "<main>",
        *(f'<p class="error" role="alert">{text(error)}</p>' for error in view.errors),
        _missing(view),
    ]
    if view.packages:
        body += [_live(view), _chart(view), _weekly(view), _versions(view)]
    elif not view.errors and not view.missing:
        body.append("<p>Name a package, or up to five separated by commas, to see their downloads.</p>")
    body.append("</main>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{STYLE}</style></head>"
        f'<body data-refresh="{view.refresh_seconds}">' + "\n".join(part for part in body if part) + "\n"
        '<script src="page/live.js" defer></script></body></html>'
    )


def page_link(query: str, **period: str) -> str:
    """A link to the page for ``query`` and a period (``period=last-week`` or
    ``start=...&end=...``), relative, so the page works under any path prefix."""
    return "?" + urlencode({"package": query, **period})


def _search_form(view: PageView) -> str:
    return (
        '<form role="search" method="get" action="">'
        '<label class="packages">Packages (up to five, separated by commas)'
        f'<input type="search" id="package" name="package" value="{attribute(view.query)}" '
        'autocomplete="off" spellcheck="false" placeholder="e.g. express, @babel/core"></label>'
        f'<label>From<input type="date" id="start" name="start" value="{view.start.isoformat()}"></label>'
        f'<label>To<input type="date" id="end" name="end" value="{view.end.isoformat()}"></label>'
        '<button type="submit">Show</button></form>'
    )


def _period_links(view: PageView) -> str:
    if not view.query:
        return ""
    links = "".join(
        f'<li><a href="{attribute(page_link(view.query, period=period))}">{label}</a></li>'
        for period, label in QUICK_PERIODS
    )
    return f'<nav aria-label="Periods"><ul>{links}</ul></nav>'


def _missing(view: PageView) -> str:
    if not view.missing:
        return ""
    parts = [
        f'<p class="error" role="alert">No package named {text(name)} has downloads here.</p>' for name in view.missing
    ]
    if view.suggestions:
        links = "".join(
            f'<li><a href="{attribute(page_link(name, start=view.start.isoformat(), end=view.end.isoformat()))}">'
            f"{text(name)}</a></li>"
            for name in view.suggestions
        )
        parts.append(f'<h2 id="suggestions">Packages starting so</h2><ul class="suggestions">{links}</ul>')
    return "".join(parts)


def _live(view: PageView) -> str:
    items = "".join(
        f'<li>{text(p.name)}: <output class="live" data-package="{attribute(p.name)}" '
        f'data-day="{view.today.isoformat()}" aria-live="polite">{grouped(p.today)}</output></li>'
        for p in view.packages
    )
    return (
        '<section aria-labelledby="live-heading">'
        f'<h2 id="live-heading">Today so far ({view.today.isoformat()}, UTC)</h2>'
        f'<ul class="live-list">{items}</ul>'
        f"<p><small>Live counts, brought up to date every {view.refresh_seconds} s.</small></p></section>"
    )


def _legend(packages: Sequence[PackageView]) -> str:
    items = []
    for number, p in enumerate(packages):
        colour, dashes = STYLES[number]
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        swatch = (
            '<svg width="28" height="10" aria-hidden="true" focusable="false">'
            f'<line x1="0" y1="5" x2="28" y2="5" stroke="{colour}" stroke-width="2"{dash}/></svg>'
        )
        items.append(f"<li>{swatch} {text(p.name)}: {grouped(p.total)}</li>")
    return f'<ul class="legend">{"".join(items)}</ul>'


def _chart(view: PageView) -> str:
    days = view.days
    series = [Series(p.name, p.values) for p in view.packages]
    heads = "".join(f'<th scope="col">{text(p.name)}</th>' for p in view.packages)
    rows = "".join(
        f'<tr><th scope="row">{day.isoformat()}</th>'
        + "".join(f"<td>{grouped(p.values[i])}</td>" for p in view.packages)
        + "</tr>"
        for i, day in enumerate(days)
    )
    totals = "".join(f"<td>{grouped(p.total)}</td>" for p in view.packages)
    opened = " open" if len(days) <= OPEN_TABLE_DAYS else ""
    return (
        '<section aria-labelledby="daily-heading">'
        f'<h2 id="daily-heading">Daily downloads, {view.start.isoformat()} to {view.end.isoformat()}</h2>'
        f"<figure>{line_chart(days, series)}<figcaption>{_legend(view.packages)}</figcaption></figure>"
        f"<details{opened}><summary>Downloads per day, as a table</summary>"
        '<div class="table-wrap"><table id="chart-table"><caption>Downloads per day</caption>'
        f'<thead><tr><th scope="col">Day</th>{heads}</tr></thead><tbody>{rows}</tbody>'
        f'<tfoot><tr><th scope="row">Total</th>{totals}</tr></tfoot></table></div></details></section>'
    )


def _weekly(view: PageView) -> str:
    weeks = view.packages[0].weeks
    heads = "".join(f'<th scope="col">{text(p.name)}</th>' for p in view.packages)
    rows = []
    for i, week in enumerate(weeks):
        cut = "" if week.days == 7 else f"<small> ({week.days} days)</small>"
        cells = "".join(f"<td>{grouped(p.weeks[i].downloads)}</td>" for p in view.packages)
        rows.append(f'<tr><th scope="row">{week.monday.isoformat()}{cut}</th>{cells}</tr>')
    return (
        '<section aria-labelledby="weekly-heading"><h2 id="weekly-heading">Weekly totals</h2>'
        '<div class="table-wrap"><table id="weekly-table"><caption>Downloads per week, Monday to Sunday</caption>'
        f'<thead><tr><th scope="col">Week of</th>{heads}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
        "</section>"
    )


def _versions(view: PageView) -> str:
    parts = ['<section aria-labelledby="versions-heading"><h2 id="versions-heading">By version</h2>']
    for number, p in enumerate(view.packages):
        rows = "".join(
            f'<tr><th scope="row">{text(share.version) if share.version else "other versions"}</th>'
            f"<td>{grouped(share.downloads)}</td><td>{share.percent:.1f}%</td>"
            f'<td><span class="bar" style="width:{share.percent * 0.08:.2f}rem" aria-hidden="true"></span></td></tr>'
            for share in p.versions
        )
        if not rows:
            rows = '<tr><td colspan="4">No downloads in this range.</td></tr>'
        parts.append(
            f'<h3 id="versions-{number}">{text(p.name)}</h3>'
            f'<div class="table-wrap"><table class="versions" data-package="{attribute(p.name)}" '
            f'aria-labelledby="versions-{number}"><thead><tr><th scope="col">Version</th>'
            '<th scope="col">Downloads</th><th scope="col">Share</th><th scope="col"><span class="visually-hidden">'
            f"Bar</span></th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    parts.append("</section>")
    return "".join(parts)
