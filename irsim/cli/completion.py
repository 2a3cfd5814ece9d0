"""`irsim completion bash|zsh`: the shell completion script of every command and option, made by
shtab from irsim's own parser (all commands loaded). shtab writes a static script: completing
costs the shell nothing (no Python started on each TAB, as argcomplete's hook would), and it
speaks zsh natively rather than through bash's compatibility layer."""

from __future__ import annotations

import argparse

import shtab

from irsim.cli.app import build_parser


def completion_script(shell: str) -> str:
    """The completion script for ``shell`` (bash or zsh)."""
    return str(shtab.complete(build_parser(), shell=shell))


def cmd_completion(args: argparse.Namespace) -> int:
    print(completion_script(args.shell))
    return 0
