"""Run reports: per-site table, cost, timeline picture and JSON, from a run's journal."""

from chiltepin.report.model import RunReport, SiteReport, build_report
from chiltepin.report.output import report_table, write_report
from chiltepin.report.timeline import write_timeline

__all__ = [
    "RunReport",
    "SiteReport",
    "build_report",
    "report_table",
    "write_report",
    "write_timeline",
]
