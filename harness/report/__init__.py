"""The HTML report of a run: `write_report(history, results, out_dir)`."""

from harness.report.html import render_page, write_report

__all__ = ["render_page", "write_report"]
