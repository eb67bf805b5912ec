"""`harness`: the command line of the harness.

Each subcommand lives in `harness/commands/<name>.py` and exports `configure(parser)` and
`run(args) -> int`; this file only dispatches, so commands never import each other.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "sim": "run the deterministic cluster simulator under faults",
    "check": "check a recorded history and write results.json and a report",
    "validate": "validate a run's node event traces against spec/Raft.tla with TLC",
    "run": "run a workload against a real cluster under a nemesis; check and report",
    "cluster": "stand up, tear down or show the hosts of a test cluster",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"harness.commands.{name}")
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
