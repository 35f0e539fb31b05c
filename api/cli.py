"""The ``yuejuan`` command: one CLI, one module per subcommand under :mod:`api.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand name -> module under api.commands exposing add_parser(subparsers) and run(args) -> int
COMMANDS = {
    "template": "template",
    "simulate": "simulate",
    "scan": "scan",
    "calibrate": "calibrate",
    "grade": "grade",
    "exam": "exam",
    "report": "report",
    "bank": "bank",  # 题库
    "assemble": "assemble",  # 组卷 from the bank
    "serve": "serve",  # also adds `worker` and `admin` (the service's commands share one module)
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yuejuan", description="Exam scanning, marking and analytics.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"api.commands.{module_name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as error:  # TemplateError and friends: a clear message, not a traceback
        print(f"yuejuan {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
