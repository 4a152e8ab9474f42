"""The `fakeit` command line: one subcommand per pipeline stage, each a thin front on library functions.

Every subcommand lives in a library module that defines `configure_parser(parser)` and `run(args) -> int`;
modules are imported only when their subcommand runs, so `fakeit prompts` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

from .core.errors import FakeitError, Stopped

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "classes": ("fakeit_lib.datasets.classes", "list the classes of a class set"),
    "prompts": ("fakeit_lib.prompts.variants", "write the prompts of a class set as JSON lines"),
    "generate": ("fakeit_lib.generation.generate", "generate a synthetic dataset with a text-to-image model"),
    "train-generator": ("fakeit_lib.generation.mini.train", "train the mini text-to-image generator on real Fashion-MNIST"),
    "train-judge": ("fakeit_lib.generation.quality.judge", "train the judge of generated Fashion-MNIST images on the real train split"),
    "train": ("fakeit_lib.training.loop", "train a classifier from scratch on a real or synthetic dataset"),
    "evaluate": ("fakeit_lib.evaluation.evaluate", "top-1/top-5 of a checkpoint on real test sets"),
    "transfer": ("fakeit_lib.evaluation.transfer", "linear probes of a frozen encoder on transfer datasets"),
    "fetch": ("fakeit_lib.experiments.fetch", "fetch a paper-scale preset's generator and published checkpoints ahead of the run"),
    "book": ("fakeit_lib.builder.runner", "execute the notebooks with a preset and build the book"),
    "lab": ("fakeit_lib.builder.lab", "prepare the notebooks with a preset's parameters for JupyterLab"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser, with only the chosen subcommand's module imported."""
    parser = _Parser(prog="fakeit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == chosen:
            mod = importlib.import_module(module)
            mod.configure_parser(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `fakeit` and `python -m fakeit_lib`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):  # bare `fakeit`: no command given
        parser.error(f"a command is required; valid: {', '.join(COMMANDS)} (fakeit COMMAND --help for one)")
    try:
        return int(args._run(args) or 0)
    except FakeitError as e:
        print(f"fakeit {args.command}: error: {e}", file=sys.stderr)
        tell_torchrun(f"fakeit {args.command}: error: {e}", 2)
        return 2
    except KeyboardInterrupt:
        print(f"fakeit {args.command}: interrupted", file=sys.stderr)
        tell_torchrun(f"fakeit {args.command}: interrupted", 130)
        return 130
    except Stopped as e:
        print(f"fakeit {args.command}: {e}", file=sys.stderr)
        tell_torchrun(f"fakeit {args.command}: {e}", e.exit_code)
        return e.exit_code


def tell_torchrun(line: str, code: int) -> None:
    """Under torchrun, why this process ends, in the error file torchrun gave it (TORCHELASTIC_ERROR_FILE, in
    torch.distributed.elastic's format): torchrun's failure report then shows this line as its root cause instead of
    a pointer to its documentation, and copies it, with this process's exit code, into its own error file when one is
    set for it. torchrun itself exits with 1 whatever a process's code (experiments.launch reads that file)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    try:
        with open(path, "w") as f:
            json.dump({"message": {"message": line, "errorCode": code,
                                   "extraInfo": {"timestamp": str(int(time.time()))}}}, f)
    except OSError:  # torchrun's report then lacks the line, which stderr above still holds
        pass
