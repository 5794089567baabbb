"""Shared plumbing of the entry points: the task of a config, smoke mode, run dirs, clean errors."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.harness import EvalSettings
from agents.registry import build_task, name_of_target, task_class
from agents.task import Task
from envs.core.config import ConfigError

# ``hydra.run.dir: ${fg.resume_or:${resume},outputs/train/...}``: a resumed run writes into
# its own directory, a new run into a fresh timestamped one. (``oc.select`` cannot do this:
# it falls back to its default only when the key is missing, not when it is null.)
if not OmegaConf.has_resolver("fg.resume_or"):
    OmegaConf.register_new_resolver("fg.resume_or", lambda resume, default: resume or default)
# ``hydra.output_subdir``: none for a resumed run, whose command ``experiments.train`` records in
# .hydra/resumed-<time> once the resume is accepted (a refused one writes nothing), so the
# run's first .hydra record stays as it was.
if not OmegaConf.has_resolver("fg.hydra_subdir"):
    OmegaConf.register_new_resolver("fg.hydra_subdir", lambda resume: None if resume else ".hydra")

log = logging.getLogger(__name__)
# smoke=true: every stage of every task shrinks to seconds (like Lightning's fast_dev_run)
SMOKE_EVAL = {"eval.reps": 2, "eval.max_reps": 2}


def make_task(cfg: DictConfig) -> Task:
    """The task of ``cfg.env`` (through the registry), after smoke overrides if ``cfg.smoke``."""
    if not isinstance(cfg.get("env"), DictConfig):
        raise ConfigError("env: expected a task config group, e.g. env=lost_sales")
    return build_task(OmegaConf.to_container(cfg.env, resolve=True))


def apply_smoke(cfg: DictConfig) -> None:
    """Shrink ``cfg`` in place for ``smoke=true``: the task's own overrides and a tiny
    evaluation (an entry point adds its own, e.g. training's); keys set on the command line win."""
    if not cfg.get("smoke"):
        return
    cls = task_class(name_of_target(cfg.env.get("_target_")))
    set_unless_given(cfg, {**cls.smoke_overrides(), **SMOKE_EVAL})


def set_unless_given(cfg: DictConfig, values: dict[str, Any]) -> None:
    """Set dotted keys in ``cfg``, except those this run's command line sets itself."""
    given = command_line_keys()
    for key, value in values.items():
        if key not in given:
            OmegaConf.update(cfg, key, value, merge=True, force_add=True)


def command_line_keys() -> set[str]:
    """The keys this run's command line overrides (``key=value``), when run by Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return set()
    return {item.partition("=")[0].lstrip("+~") for item in HydraConfig.get().overrides.task}


def eval_settings(section: DictConfig, name: str, seed_base: int | None = None) -> EvalSettings:
    if not isinstance(section, DictConfig):
        raise ConfigError(f"{name}: expected a section with periods, warmup, reps, max_reps and target_rel_ci")
    kwargs = {} if seed_base is None else {"seed_base": seed_base}
    return EvalSettings.from_config(section, name, **kwargs)


def run_dir() -> Path:
    """Hydra's output directory for this run (``hydra.run.dir=...`` is honoured)."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def save_resolved_config(cfg: DictConfig, out: Path) -> None:
    """Write the fully resolved config: every number in the run dir is reproducible from it."""
    OmegaConf.save(cfg, out / "config.yaml", resolve=True)


def command_line(module: str) -> str:
    return f"python -m {module} " + " ".join(sys.argv[1:])


def make_console() -> Console:
    """A console for result tables: piped output (CI logs, ``| tee``) would otherwise get 80
    columns, too narrow for the tables, so it gets 160."""
    return Console(width=None if sys.stdout.isatty() else 160)


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def clean_errors(fn):
    """Turn configuration errors into one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
