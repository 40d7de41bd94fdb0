"""The back office's figures, every one read from the sales ledger (kiosk.ledger), never from
the key-value store: the accounting export (export.py) and the day's closings, X and Z reports
(closing.py, figures.py). No Flask here: the operator's pages (kiosk.web.reports) call these."""

from .closing import Closed, ZSummary, close_day, x_report, z_report, z_reports, z_rows
from .export import COLUMNS, RangeError, day_range, export, parse_range, shop_day

__all__ = ["COLUMNS", "Closed", "RangeError", "ZSummary", "close_day", "day_range", "export",
           "parse_range", "shop_day", "x_report", "z_report", "z_reports", "z_rows"]
