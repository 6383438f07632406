"""The downloads page and the badge that ``numbat-logs serve`` serves beside the API.

Modules, one job each: ``_svg.py`` the chart (geometry and SVG), ``_badge.py`` +
``_widths.py`` the badge and our table of text widths, ``_figures.py`` weekly totals and
the split by version, ``_html.py`` the page's markup, ``_escape.py`` what makes text safe
for both, ``_routes.py`` the routes, ``live.js`` the page's one script (today's count).
All but the routes are pure; nothing is fetched from anywhere at run time.
"""

from __future__ import annotations

from ._badge import Badge, badge_svg, short_count
from ._routes import PageOptions, page_routes
from ._svg import Frame, Series, line_chart

__all__ = ["Badge", "Frame", "PageOptions", "Series", "badge_svg", "line_chart", "page_routes", "short_count"]
