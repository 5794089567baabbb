"""Running an entry point in this process outside a test function: for module-scoped
fixtures, which have neither ``monkeypatch`` nor ``capsys``.

:func:`run_once` is :func:`tests.entry_points.run_in_process` with a ``pytest.MonkeyPatch``
context (every environment variable, the working directory and ``sys.argv`` are restored
afterwards) and stdout/stderr captured by ``contextlib.redirect_stdout``/``redirect_stderr``
into strings (what ``capsys`` would capture of a run: what it writes to ``sys.stdout`` and
``sys.stderr``).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.entry_points import Result, run_in_process


class Captured:
    """A stand-in for ``capsys``: ``readouterr()`` returns what was written since the last call."""

    def __init__(self):
        self.out, self.err = io.StringIO(), io.StringIO()
        self._seen = (0, 0)

    def readouterr(self) -> SimpleNamespace:
        out, err = self.out.getvalue(), self.err.getvalue()
        new = SimpleNamespace(out=out[self._seen[0]:], err=err[self._seen[1]:])
        self._seen = (len(out), len(err))
        return new


def run_once(module: str, args: list[str], base: Path, out: Path | None = None) -> Result:
    """``MODULE``'s Hydra ``main`` on ``args`` in this process, from any scope."""
    captured = Captured()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(captured.out), \
            contextlib.redirect_stderr(captured.err):
        return run_in_process(module, args, base, mp, captured, out)
