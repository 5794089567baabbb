"""Running the entry points (``python -m experiments.<verb>``) from the tests.

Two ways, with the same environment (:func:`subprocess_env`) and the same :class:`Result`:

* :func:`run_subprocess`: a real interpreter, as a user runs it (one path per task and verb
  is tested this way: ``tests/test_tasks.py``);
* :func:`run_in_process`: the verb's Hydra ``main`` in this process (:func:`run_once` from a
  module-scoped fixture, which has neither ``monkeypatch`` nor ``capsys``), on the config Hydra
  composes from the same arguments, with the run directory set as a run sets it. No new
  interpreter starts (about two CPU-seconds of imports each), so checks of errors, tables and
  files use it. Hydra's own per-run side effects (``.hydra/`` records, log files) are only
  in subprocess runs.

The environment: ``OMP_NUM_THREADS=1``, a scratch working directory (a stray ``outputs/``
never lands in the repo), wandb pointed at scratch directories with every network endpoint
set to a closed local port, and ``HOME`` in scratch (no credentials, no shared caches).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600  # seconds for any one subprocess (the slow euro pipeline took > 300 s under load)


@dataclass
class Result:
    module: str
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    out: Path | None = None  # the run (or sweep) directory

    def explain(self) -> str:
        return (f"python -m {self.module} {' '.join(self.args)}\nexit {self.returncode}\n"
                f"--- stdout (tail)\n{self.stdout[-3000:]}\n--- stderr (tail)\n{self.stderr[-3000:]}")

    def assert_ok(self) -> Result:
        assert self.returncode == 0, self.explain()
        assert "Traceback" not in self.stderr, self.explain()
        return self

    def assert_one_line_error(self, *fragments: str) -> str:
        lines = self.stderr.strip().splitlines()
        assert self.returncode == 2, self.explain()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.explain()
        for fragment in fragments:
            assert fragment in lines[0], self.explain()
        return lines[0]


def subprocess_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    dead = "http://127.0.0.1:9"  # the discard port: any network attempt fails at once
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
        "COLUMNS": "200", "HYDRA_FULL_ERROR": "1",
        "WANDB_SILENT": "true", "WANDB_BASE_URL": dead, "WANDB_DISABLE_CODE": "true",
        "WANDB_CONFIG_DIR": str(base / "wandb_home" / "config"),
        "WANDB_CACHE_DIR": str(base / "wandb_home" / "cache"),
        "WANDB_DATA_DIR": str(base / "wandb_home" / "data"),
        "WANDB_ARTIFACT_DIR": str(base / "wandb_home" / "artifacts"),
        "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "https_proxy": dead,
        "HOME": str(base / "home"),  # no ~/.netrc W&B credentials, no shared solver cache
    })
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


def run_subprocess(module: str, args: list[str], base: Path, out: Path | None = None, cwd: Path | None = None,
                   timeout: float = TIMEOUT) -> Result:
    """``python -m MODULE ARGS`` in a new interpreter (working directory ``cwd`` or a scratch one)."""
    cwd = cwd or base / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=subprocess_env(base),
                          capture_output=True, text=True, timeout=timeout)
    return Result(module, args, proc.returncode, proc.stdout, proc.stderr, out)


def run_in_process(module: str, args: list[str], base: Path, monkeypatch, capsys, out: Path | None = None) -> Result:
    """``MODULE``'s Hydra ``main`` on ``args``, in this process (module docstring); ``out``:
    the run directory (default: ``hydra.run.dir=...`` of ``args``, else a scratch one). Its
    exit status is 0, or that of the ``SystemExit`` it raises; other exceptions propagate (a
    traceback fails the test)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    main = importlib.import_module(module).main
    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    for key, value in subprocess_env(base).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    (base / "cwd").mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(base / "cwd")
    monkeypatch.setattr(sys, "argv", [str(ROOT / (module.replace(".", "/") + ".py")), *args])
    given = [a.partition("=")[2] for a in args if a.startswith("hydra.run.dir=")]
    out = out or (Path(given[-1]) if given else base / "run")
    verb = module.rsplit(".", 1)[-1]
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3", job_name=verb):
        cfg = compose(f"{verb}.yaml", overrides=args, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(out)
        HydraConfig.instance().set_config(cfg)
        del cfg["hydra"]
    out.mkdir(parents=True, exist_ok=True)
    capsys.readouterr()
    try:
        main(cfg)
        returncode = 0
    except SystemExit as stop:
        returncode = stop.code if isinstance(stop.code, int) else 1
    finally:
        HydraConfig.instance().cfg = None  # as outside any run, for the tests that follow
    captured = capsys.readouterr()
    return Result(module, args, returncode, captured.out, captured.err, out)


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
    """:func:`run_in_process` from any scope: with a ``pytest.MonkeyPatch`` context (environment,
    working directory and ``sys.argv`` are restored afterwards) and stdout/stderr captured by
    ``contextlib.redirect_stdout``/``redirect_stderr`` (:class:`Captured`)."""
    captured = Captured()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(captured.out), \
            contextlib.redirect_stderr(captured.err):
        return run_in_process(module, args, base, mp, captured, out)
