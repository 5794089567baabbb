"""Run directories: one command's outputs per directory, and nothing lost to a wrong one.

Every run of ``experiments.train`` and ``experiments.benchmark`` marks its directory with
``run.json`` (the command, the task, the config-group choices, the creation time). Before
Hydra creates or writes anything (its ``.hydra/`` record, log file, the run's outputs),
:class:`RunDirGuard`, a Hydra callback, checks the target:

* a new or empty directory is fine, and so is one that holds only Hydra's records (``.hydra/``,
  ``<command>.log``) of a command refused before it wrote anything, so that the fixed command
  can run in the same directory;
* ``resume=RUN_DIR`` (training only) must name a directory of ``experiments.train`` with a
  readable ``config.yaml``; a mistyped path, a file or a garbage config is refused in one
  line and no directory is created;
* anything else, e.g. ``hydra.run.dir=`` pointing at another run, is refused in one line,
  and the target's files are left untouched.

A multirun checks its sweep directory the same way. Refusals exit with status 2.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from envs.core.config import ConfigError

MARKER = "run.json"


def describe(path: Path) -> str:
    """What ``path`` holds, for a refusal message."""
    marker = path / MARKER
    if marker.is_file():
        try:
            return f"a run of experiments.{json.loads(marker.read_text())['command']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "a run (unreadable run.json)"
    if (path / "checkpoints").is_dir() or (path / "config.yaml").is_file():
        return "a run"
    return "other files"


def check_target(path: Path, field: str = "hydra.run.dir") -> None:
    """ConfigError unless ``path`` is new or an empty directory."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{field}: {path} is a file; expected a new or empty directory")
    if path.is_dir() and any(not refused_run_record(p) for p in path.iterdir()):
        raise ConfigError(f"{field}: {path} already holds {describe(path)}; choose a new or empty directory "
                          "(continue a training run with resume=RUN_DIR)")


def refused_run_record(entry: Path) -> bool:
    """Whether ``entry`` of a run directory is Hydra's record of a command (``.hydra/``, a log
    file): all a command refused by its checks leaves (it writes ``run.json`` only once they pass)."""
    return (entry.name == ".hydra" and entry.is_dir()) or (entry.suffix == ".log" and entry.is_file())


def check_resume(path: Path) -> None:
    """ConfigError unless ``path`` is a run directory of experiments.train."""
    expected = "expected a run directory of experiments.train"
    if not path.exists():
        raise ConfigError(f"resume: {path} does not exist; {expected}")
    if not path.is_dir():
        raise ConfigError(f"resume: {path} is a file; {expected}")
    marker = path / MARKER
    if marker.is_file():
        try:
            command = json.loads(marker.read_text()).get("command")
        except (OSError, ValueError, AttributeError):
            command = None
        if command != "train":
            raise ConfigError(f"resume: {path} holds {describe(path)}, not a training run; {expected}")
    from agents.rl.loading import read_run_config

    read_run_config(path, "resume")


def write_marker(out: Path, command: str, task: str, choices: dict[str, Any]) -> None:
    """Mark ``out`` as this command's run directory (kept on resume)."""
    target = out / MARKER
    if target.exists():
        return
    record = {"command": command, "task": task, "choices": choices,
              "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    target.write_text(json.dumps(record, indent=2) + "\n")


def read_marker(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class RunDirGuard(Callback):
    """The Hydra callback of the module docstring (``hydra.callbacks.run_dir_guard``)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._guard(lambda: self._check_run(config))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._guard(lambda: check_target(Path(str(OmegaConf.select(config, "hydra.sweep.dir"))), "hydra.sweep.dir"))

    def _check_run(self, config: DictConfig) -> None:
        resume = config.get("resume")
        if resume:
            check_resume(Path(str(resume)))
            run = Path(str(OmegaConf.select(config, "hydra.run.dir")))
            if run.resolve() != Path(str(resume)).resolve():
                raise ConfigError(f"resume: a resumed run writes into its own directory; drop hydra.run.dir={run}")
            return
        check_target(Path(str(OmegaConf.select(config, "hydra.run.dir"))))

    @staticmethod
    def _guard(check) -> None:
        try:
            check()
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
