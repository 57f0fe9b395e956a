"""Write the command-line reference from the argparse parsers of ``medidenoise`` (including the
PACS commands), so the page says exactly what ``medidenoise COMMAND --help`` says."""

from __future__ import annotations

import argparse
import os

import mkdocs_gen_files

from medidenoise.cli import build_parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public accessor for its subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each subcommand's one-line help, as the top-level ``--help`` lists it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def page() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width: fix it for the page
    parser = build_parser()
    commands = subcommands(parser)
    one_line = helps(parser)
    lines = [
        "# Command line",
        "",
        "Generated from the parsers of `medidenoise/cli.py` at build time: each section is what",
        "`medidenoise COMMAND --help` prints. `medidenoise --version` prints the version;",
        "`-v` before the command turns on debug logging.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    lines += [f"| [`{name}`](#{name}) | {one_line.get(name, '')} |" for name in commands]
    lines += ["", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in commands.items():
        lines += [f"## {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


with mkdocs_gen_files.open("reference/cli.md", "w") as f:
    f.write(page())
