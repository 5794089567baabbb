"""Tracking dashboards for training runs: CSV, TensorBoard and Weights & Biases.

All three receive the same scalars through SB3's logger (``train/...``, ``eval/...``,
``rollout/...``). The CSV log appends on resume instead of truncating; wandb runs
offline unless the user asks otherwise, and never needs an account or a network.
"""

from __future__ import annotations

import csv
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.logger import KVWriter, Logger, TensorBoardOutputFormat

from envs.core.config import ConfigError


class AppendingCSV(KVWriter):
    """CSV log that continues an existing file (resumed runs append to the same log)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.keys: list[str] = []
        self.rows: list[dict] = []
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                self.keys = list(reader.fieldnames or [])
                self.rows = list(reader)

    def write(self, key_values: dict[str, Any], key_excluded: dict, step: int = 0) -> None:
        row = {k: _scalar(v) for k, v in key_values.items() if _scalar(v) is not None}
        new = [k for k in row if k not in self.keys]
        self.rows.append(row)
        if new:  # header changed: rewrite the whole file (rare: only when a key first appears)
            self.keys.extend(new)
            with self.path.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=self.keys)
                writer.writeheader()
                writer.writerows(self.rows)
        else:
            with self.path.open("a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=self.keys).writerow(row)

    def close(self) -> None:
        pass


class WandbWriter(KVWriter):
    """Forward SB3 scalars to an active wandb run."""

    def __init__(self, run):
        self.run = run

    def write(self, key_values: dict[str, Any], key_excluded: dict, step: int = 0) -> None:
        data = {k: v for k, v in ((k, _scalar(v)) for k, v in key_values.items()) if v is not None}
        if data:
            self.run.log(data, step=int(step))

    def close(self) -> None:
        pass


def _scalar(v):
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    return None


WANDB_MODES = ("offline", "online", "disabled")


def wandb_mode(wandb_cfg: dict) -> str:
    """The wandb mode (``WANDB_MODE`` wins over ``logger.wandb.mode``; default offline), or a
    one-line ConfigError for a bogus mode or ``online`` without credentials (``WANDB_API_KEY``
    or a ``~/.netrc`` entry for the W&B host, as ``wandb login`` writes)."""
    mode = os.environ.get("WANDB_MODE") or wandb_cfg.get("mode") or "offline"
    field = "WANDB_MODE" if os.environ.get("WANDB_MODE") else "logger.wandb.mode"
    if mode not in WANDB_MODES:
        raise ConfigError(f"{field}: expected one of {', '.join(WANDB_MODES)}, got {mode!r}")
    if mode == "online" and not _has_credentials():
        raise ConfigError(f"{field}=online: no W&B credentials (run `wandb login` or set WANDB_API_KEY), "
                          "or use mode=offline and `wandb sync` later")
    return mode


def _has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def start_wandb(wandb_cfg: dict, out: Path, config: dict, name: str):
    """Start (or, on resume, continue) a wandb run; offline unless configured otherwise."""
    import wandb

    mode = wandb_mode(wandb_cfg)
    id_file = out / "wandb_run_id.txt"
    run_id = id_file.read_text().strip() if id_file.exists() else uuid.uuid4().hex[:8]
    id_file.write_text(run_id)
    return wandb.init(
        project=wandb_cfg.get("project") or "fulfillgym", entity=wandb_cfg.get("entity"),
        group=wandb_cfg.get("group"), tags=list(wandb_cfg.get("tags") or []), mode=mode,
        dir=str(out), config=config, name=name, id=run_id, resume="allow",
        settings=wandb.Settings(silent=True, console="off"),
    )


def make_logger(out: Path, logger_cfg: dict, wandb_run=None) -> Logger:
    formats: list[KVWriter] = []
    if logger_cfg.get("csv", True):
        formats.append(AppendingCSV(out / "progress.csv"))
    if logger_cfg.get("tensorboard", True):
        formats.append(TensorBoardOutputFormat(str(out / "tensorboard")))
    if wandb_run is not None:
        formats.append(WandbWriter(wandb_run))
    return Logger(folder=str(out), output_formats=formats)
