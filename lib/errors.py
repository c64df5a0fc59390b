"""Errors meant for the person at the command line: the CLI prints them without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing artifact; the message says what and where."""


class InputError(UserError):
    """A problem in an input file, located by path and (when known) line number."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path, self.line, self.problem = path, line, problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
