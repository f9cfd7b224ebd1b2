"""``harness history``: how quality and speed moved over the last commits, from the history store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.arguments import positive_int
from harness.cli.options import Parents
from harness.history.series import DEFAULT_LAST_COMMITS
from harness.project import Project

HISTORY_MARKDOWN = "history.md"
HISTORY_CHART = "history.png"
NOTHING = 2  # the exit status when the store holds nothing to show


def add_parser(commands, parents: Parents) -> None:
    history = commands.add_parser(
        "history", parents=[parents.listing],
        help="trend tables and a chart of quality and throughput over the last commits, with detected slowdowns")
    history.add_argument("--history", type=Path, default=None, metavar="PATH",
                         help="the history store to read. Default: [tool.harness] history, else $HARNESS_HISTORY, "
                              "else .harness/history.sqlite beside pyproject.toml")
    history.add_argument("--last", type=positive_int, default=DEFAULT_LAST_COMMITS, metavar="N",
                         help=f"show each series' last N commits (default: {DEFAULT_LAST_COMMITS})")
    history.add_argument("--output-dir", type=Path, default=None, metavar="DIR",
                         help=f"where {HISTORY_MARKDOWN} and {HISTORY_CHART} are written (default: the project's "
                              "reports folder)")
    history.set_defaults(handler=command)


def command(args: argparse.Namespace, project: Project) -> int:
    from harness.files import append_to_step_summary, atomic_write_text
    from harness.history.chart import write_history_chart
    from harness.history.store import HistoryStore
    from harness.history.trend import Trend, trend_markdown

    path = project.settings.history
    if path is None or not path.is_file():  # opening would create it: a reader must not
        return _nothing(f"no history store at {path}: `pytest` records one per session that gates or benchmarks "
                        "something; point --history (or [tool.harness] history, $HARNESS_HISTORY) at another file")
    trend = Trend.of(HistoryStore(path), last_commits=args.last)
    if trend.empty:
        return _nothing(f"the history store {path} holds no quality check or throughput case yet")
    output_dir = args.output_dir or project.settings.reports_dir
    chart = write_history_chart(trend, output_dir / HISTORY_CHART)
    text = trend_markdown(trend, chart=chart.name)
    print(text)
    print(f"harness: wrote {atomic_write_text(output_dir / HISTORY_MARKDOWN, text)} and {chart}")
    try:
        append_to_step_summary(project.settings.step_summary, trend_markdown(trend))  # without the chart
    except OSError as error:
        print(f"harness: warning: could not append to the CI step summary {project.settings.step_summary} ({error})",
              file=sys.stderr)
    return 0


def _nothing(message: str) -> int:
    print(f"harness: {message}", file=sys.stderr)
    return NOTHING
