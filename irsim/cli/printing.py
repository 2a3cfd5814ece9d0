"""What a command that prints a result writes on standard output: irsim's console view by
default, or the result as --output json|yaml|text|table after --query, as the AWS CLI writes
them (irsim/cli/awsoutput.py). The query is compiled before any work starts, so a bad one is
refused at once."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jmespath.parser import ParsedResult

from irsim.cli.awsoutput import compile_query, plain, render
from irsim.cli.awsshapes import AwsCliUsageError
from irsim.cli.errors import CliError
from irsim.present.formats import dumps


@dataclass(frozen=True)
class Printer:
    """How a command prints its result: ``output`` None is irsim's console view."""

    output: str | None
    query: ParsedResult | None
    wide: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Printer:
        """--output, --query, --json (= --output json) and --wide, checked now."""
        output = "json" if getattr(args, "json", False) else getattr(args, "output", None)
        text = getattr(args, "query", None)
        query = None
        if text is not None:
            try:
                query = compile_query(text)
            except AwsCliUsageError as exc:
                raise CliError(f"--query: {exc}".replace("Bad value for --query ", "")) from None
            output = output or "json"
        return cls(output=output, query=query, wide=bool(getattr(args, "wide", False)))

    @property
    def structured(self) -> bool:
        """Whether the result is printed as a document (not the console view)."""
        return self.output is not None

    def text(self, document: Any, title: str | None = None) -> str:
        """``document`` queried and rendered (JSON as irsim writes it: indented by two)."""
        data = json.loads(dumps(plain(document), indent=None))  # plain Python: datetimes, numpy, NaN settled
        if self.query is not None:
            data = self.query.search(data)
        if self.output == "json":
            return dumps(data)
        return render(data, self.output or "json", title).rstrip("\n")

    def emit(self, document: Any, console: Callable[[], str], title: str | None = None) -> None:
        """Print the result: ``console()`` by default, else the document in the asked format."""
        print(self.text(document, title) if self.structured else console())
