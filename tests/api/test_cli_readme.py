"""The README's command lines work as typed: every `yuejuan …` line of its shell blocks parses with the CLI's own
argparse (subcommands, options and their choices exist), and the README says how to get the command."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from api.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def _command_lines() -> list[str]:
    """Every line of the README's shell blocks that runs yuejuan, continuation lines joined."""
    lines = []
    for block in SHELL_BLOCK.findall(README.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            while tokens and ASSIGNMENT.match(tokens[0]):  # YUEJUAN_NEW_PASSWORD='…' yuejuan …
                tokens.pop(0)
            if tokens and tokens[0] == "yuejuan":
                lines.append(line)
    return lines


def _variants(line: str) -> list[list[str]]:
    """The argument lists a README line stands for: without its optional [...] parts and with all of them, and
    each `a|b|c` alternative in turn."""
    tokens = shlex.split(line, comments=True)
    while ASSIGNMENT.match(tokens[0]):
        tokens.pop(0)
    tokens = tokens[1:]
    marked, depth = [], 0  # (token without brackets, inside an optional part)
    for token in tokens:
        opens = token.startswith("[")
        depth += opens
        marked.append((token.strip("[]"), depth > 0))
        depth -= token.count("]")
    alternatives = [token.split("|") if "|" in token else [token] for token, _ in marked]
    variants = []
    for optional in (False, True):
        for pick in range(max(map(len, alternatives))):
            argv = [choices[pick % len(choices)] for (_, inside), choices in zip(marked, alternatives)
                    if optional or not inside]
            variants.append(argv)
    return variants


def test_the_readme_has_command_lines_to_check():
    lines = _command_lines()
    assert len(lines) >= 15
    assert {shlex.split(line, comments=True)[1] for line in lines if line.startswith("yuejuan")} >= {
        "template", "simulate", "scan", "exam", "grade", "report", "serve", "worker", "admin"}


@pytest.mark.parametrize("line", _command_lines())
def test_readme_command_parses(line):
    parser = build_parser()
    for argv in _variants(line):
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            try:
                args = parser.parse_args(argv)
            except SystemExit as done:  # --help prints and exits 0; anything else is an error
                assert done.code == 0 and argv[-1] == "--help", \
                    f"{' '.join(argv)!r} does not parse: {errors.getvalue().strip()}"
                continue
        assert callable(args.handler)


def test_variants_expand_options_and_alternatives():
    assert _variants("yuejuan scan s/ --out r [--workers 2] [--profile a|b]  # a comment") == [
        ["scan", "s/", "--out", "r"], ["scan", "s/", "--out", "r"],
        ["scan", "s/", "--out", "r", "--workers", "2", "--profile", "a"],
        ["scan", "s/", "--out", "r", "--workers", "2", "--profile", "b"]]


def test_an_unknown_option_would_be_caught():
    parser = build_parser()
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
        parser.parse_args(_variants("yuejuan scan s/ --template t --out r [--no-such-option]")[-1])


def test_the_readme_says_how_to_get_the_command_after_make_install():
    text = README.read_text(encoding="utf-8")
    first = SHELL_BLOCK.search(text).group(1)
    assert "make demo" in first and "make test" in first  # the README starts with the two commands that do all
    setup = next(block.group(1) for block in SHELL_BLOCK.finditer(text) if "make install" in block.group(1))
    steps = [line.split("#")[0].strip() for line in setup.splitlines()]
    assert steps.index("make install") < steps.index(". .venv/bin/activate") < steps.index("yuejuan --help")
