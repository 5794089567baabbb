"""Shared plumbing of the entry points: the task of a config, smoke mode, run dirs, clean errors
(and :func:`checked_groups`: a config-group choice the config directory lacks, e.g.
``env=nosuch``, is refused in one line before Hydra composes anything)."""

from __future__ import annotations

import argparse
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
from envs.core.config import ConfigError, check_bool, check_choice, check_int

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
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MAX_TUNING_REPS = 100_000
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
    if not check_bool("smoke", cfg.get("smoke", False)):
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


def tuning_reps(value: Any) -> int | None:
    """``tuning.reps``: null (the task's default) or the tuning replications, at least 2 (a race
    compares candidates by their paired variance over replications)."""
    return None if value is None else check_int("tuning.reps", value, 2, MAX_TUNING_REPS)


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


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the verbs without Hydra (suite, compare): a bad argument is one line,
    ``error: <message>``, and exit status 2, as every other error of the verbs."""

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def checked_groups(main):
    """Wrap a verb's ``@hydra.main`` function: run from the command line (no arguments), the
    choices of config groups on it (``env=...``, ``scenario=...``) are checked against the
    config directory first (:func:`check_group_overrides`); otherwise Hydra fails before
    ``main`` with a multi-line error and exit status 1."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        if not args and not kwargs:
            clean_errors(check_group_overrides)(sys.argv[1:])
        return main(*args, **kwargs)

    return wrapper


def check_group_overrides(argv: list[str]) -> None:
    """A ConfigError naming the group and its choices (``configs/<group>/*.yaml`` and those of
    ``file://`` entries of ``hydra.searchpath`` / ``--config-dir``) for the first command-line
    choice of a config group that does not exist or is null. Anything Hydra's parser refuses,
    ``hydra/...`` groups and search paths other than directories are left to Hydra."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType

    dirs = [CONFIGS]
    for flag, value in zip(argv, argv[1:] + [""], strict=True):
        if flag in ("--config-dir", "-cd"):
            dirs.append(Path(value))
        elif flag.startswith("--config-dir="):
            dirs.append(Path(flag.partition("=")[2]))
    try:
        overrides = OverridesParser.create().parse_overrides([a for a in argv if "=" in a and not a.startswith("-")])
    except Exception:  # Hydra's own one-line grammar error follows
        return
    for override in overrides:
        if override.key_or_group == "hydra.searchpath":
            paths = override.value() if isinstance(override.value(), list) else [override.value()]
            if not all(str(p).startswith("file://") for p in paths):
                return
            dirs += [Path(str(p).removeprefix("file://")) for p in paths]
    groups: dict[str, set[str]] = {}
    for folder in dirs:
        for group in (d for d in folder.glob("*") if d.is_dir() and d.name != "hydra"):
            groups.setdefault(group.name, set()).update(
                f.relative_to(group).with_suffix("").as_posix() for f in group.rglob("*.yaml"))
    for override in overrides:
        if override.key_or_group not in groups or override.is_delete():
            continue
        if override.is_sweep_override():
            if override.value_type not in (ValueType.CHOICE_SWEEP, ValueType.SIMPLE_CHOICE_SWEEP):
                continue  # glob and range sweeps are Hydra's
            values = list(override.sweep_string_iterator())
        else:
            values = [override.value()]
        for value in values:
            check_choice(override.key_or_group, "null" if value is None else value, sorted(groups[override.key_or_group]))
