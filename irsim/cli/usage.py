"""Usage errors as irsim says them: one line, exit 2, and "did you mean" (difflib) for a
mistyped command, option or choice, instead of argparse's list of every choice."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable
from typing import NoReturn

from irsim.errors import shortened
from irsim.exitcodes import EXIT_USAGE

INVALID_CHOICE = re.compile(r"argument (?P<argument>[^:]+): invalid choice: '(?P<value>[^']*)' "
                            r"\(choose from (?P<choices>.*)\)")
UNRECOGNIZED = "unrecognized arguments: "


def one_line(message: str) -> str:
    """A message of several lines (botocore's parameter validation) joined into one."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return shortened(lines[0] if lines else message)
    head, rest = lines[0], "; ".join(lines[1:])
    return shortened(f"{head} {rest}" if head.endswith(":") else f"{head}; {rest}")


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """'; did you mean X?' (or 'X or Y?') for the known words close to ``word``, else ''."""
    close = difflib.get_close_matches(word, list(known), n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def listed_commands(parser: argparse.ArgumentParser) -> list[str]:
    """The subcommands ``parser`` lists in its help (a hidden alias is not one of them)."""
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += [choice.dest for choice in action._choices_actions]
    return found


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every long option of ``parser`` (those --help lists)."""
    return [option for action in parser._actions if action.help != argparse.SUPPRESS
            for option in action.option_strings if option.startswith("--")]


class OneLineErrors(argparse.ArgumentParser):
    """argparse with a usage error said in one line (naming where the usage is), exit 2, and a
    suggestion for a near miss. Subcommands inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {self.reworded(message)} (`{self.prog} --help` shows the usage)\n")

    def reworded(self, message: str) -> str:
        """argparse's message, with an invalid choice's full list replaced by the close ones."""
        choice = INVALID_CHOICE.fullmatch(message.strip())
        if choice:
            value, argument = choice["value"], choice["argument"]
            if argument in ("COMMAND", "ACTION"):
                return f"{value!r} is not an irsim {argument.lower()}{did_you_mean(value, listed_commands(self))}"
            known = re.findall(r"'([^']*)'", choice["choices"])
            return f"argument {argument}: {value!r} is not one of {', '.join(known)}{did_you_mean(value, known)}"
        if message.startswith(UNRECOGNIZED):
            words = message.removeprefix(UNRECOGNIZED).split()
            hints = [did_you_mean(word.split("=")[0], option_strings(self)) for word in words if word.startswith("-")]
            return one_line(message) + next((hint for hint in hints if hint), "")
        return one_line(message)


def deepest(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The subcommand's parser that ``argv`` reaches (``irsim real-aws wait ...``: wait's)."""
    for word in argv:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            break
        if word in subparsers[0].choices:
            parser = subparsers[0].choices[word]
    return parser
