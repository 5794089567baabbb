"""Shared plumbing of the entry points: config conversion, run dirs, clean errors."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from envs.core.config import ConfigError
from envs.replenishment.fulfillment_center.config import FulfillmentConfig
from envs.replenishment.lost_sales.config import LostSalesConfig

# ``hydra.run.dir: ${fg.resume_or:${resume},outputs/train/...}``: a resumed run writes into
# its own directory, a new run into a fresh timestamped one. (``oc.select`` cannot do this:
# it falls back to its default only when the key is missing, not when it is null.)
if not OmegaConf.has_resolver("fg.resume_or"):
    OmegaConf.register_new_resolver("fg.resume_or", lambda resume, default: resume or default)

# Keys of the env config group that belong to Gymnasium registration, not to the env.
MAKE_KEYS = ("id", "max_episode_steps")
# Keys of the fulfilment-centre env groups that configure training, not the env itself.
FC_TRAINING_KEYS = ("reward", "train_overrides")


def env_kwargs(env_cfg: DictConfig | dict) -> dict[str, Any]:
    """The env's keyword arguments: the env group minus registration keys and nulls."""
    raw = OmegaConf.to_container(env_cfg, resolve=True) if isinstance(env_cfg, DictConfig) else dict(env_cfg)
    kwargs = {k: v for k, v in raw.items() if k not in MAKE_KEYS and v is not None}
    if isinstance(kwargs.get("demand"), dict):
        kwargs["demand"] = {k: v for k, v in kwargs["demand"].items() if v is not None}
    return kwargs


def lost_sales_config(env_cfg: DictConfig | dict) -> LostSalesConfig:
    return LostSalesConfig.from_kwargs(env_kwargs(env_cfg))


def fc_config(env_cfg: DictConfig | dict) -> FulfillmentConfig:
    """The FulfillmentConfig of a Hydra env group (nulls dropped, training keys ignored)."""
    kwargs = {k: v for k, v in env_kwargs(env_cfg).items() if k not in FC_TRAINING_KEYS}
    return FulfillmentConfig.from_kwargs(kwargs)


def run_dir() -> Path:
    """Hydra's output directory for this run (``hydra.run.dir=...`` is honoured)."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def save_resolved_config(cfg: DictConfig, out: Path) -> None:
    """Write the fully resolved config: every number in the run dir is reproducible from it."""
    OmegaConf.save(cfg, out / "config.yaml", resolve=True)


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
