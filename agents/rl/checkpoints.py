"""Atomic checkpoints of a training run.

A checkpoint is a directory ``checkpoints/step_<timesteps>/`` holding ``model.zip``,
``vecnormalize.pkl`` and ``vecnormalize.json`` (when observations or rewards are
normalised), ``replay_buffer.pkl`` (off-policy algorithms) and ``meta.json`` (timesteps,
wall-clock seconds, algorithm).

Trust: ``model.zip`` (partly), ``vecnormalize.pkl`` and ``replay_buffer.pkl`` are pickles and
can run code when loaded. Only *resuming* a run loads them (SB3 needs its own state), so
resuming trusts the run directory. Evaluating, benchmarking and exporting a run load
nothing executable: the network weights with ``torch.load(weights_only=True)`` from
``model.zip``'s ``policy.pth`` and the normalisation statistics from ``vecnormalize.json``
(``agents.rl.loading``). An exported ONNX file is the artifact to share.
It is written into a hidden temporary directory and renamed into place, so a crash
mid-write leaves every earlier checkpoint intact and never a half-written one under a
``step_*`` name. The best model on the validation seeds is kept the same way in ``best/``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from envs.core.config import ConfigError

META = "meta.json"


@dataclass
class Checkpoint:
    path: Path
    timesteps: int
    meta: dict

    @property
    def model(self) -> Path:
        return self.path / "model.zip"

    @property
    def vecnormalize(self) -> Path | None:
        p = self.path / "vecnormalize.pkl"
        return p if p.exists() else None

    @property
    def normalisation(self) -> Path | None:
        p = self.path / "vecnormalize.json"
        return p if p.exists() else None

    @property
    def replay_buffer(self) -> Path | None:
        p = self.path / "replay_buffer.pkl"
        return p if p.exists() else None


def save(model, vec_env, target: Path, meta: dict) -> Path:
    """Write a checkpoint atomically to ``target`` (replacing an older one of that name)."""
    target = Path(target)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model.save(tmp / "model.zip")
        if vec_env is not None and hasattr(vec_env, "obs_rms"):
            vec_env.save(str(tmp / "vecnormalize.pkl"))
            (tmp / "vecnormalize.json").write_text(json.dumps(normalisation_record(vec_env)))
        if hasattr(model, "save_replay_buffer") and getattr(model, "replay_buffer", None) is not None:
            model.save_replay_buffer(tmp / "replay_buffer.pkl")
        full_meta = {"timesteps": int(model.num_timesteps), "saved_at": time.time(), **meta}
        (tmp / META).write_text(json.dumps(full_meta, indent=2))
        for path in tmp.iterdir():  # file contents reach the disk before the rename does
            _fsync_dir(path)
        _fsync_dir(tmp)
    except BaseException:  # a failed write leaves no debris; earlier checkpoints are untouched
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".old-{target.name}-{os.getpid()}"
        target.rename(old)
    tmp.rename(target)
    _fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def normalisation_record(vec_env) -> dict:
    """VecNormalize's observation statistics as plain numbers (``vecnormalize.json``)."""
    from agents.rl.adapter import ObsNormalizer

    obs = ObsNormalizer.from_vec_env(vec_env)
    return {"norm_obs": obs is not None, "norm_reward": bool(getattr(vec_env, "norm_reward", False)),
            "obs": None if obs is None else obs.to_dict()}


def save_step(model, vec_env, run_dir: Path, meta: dict, keep: int) -> Path:
    """Save ``checkpoints/step_<timesteps>`` and prune all but the newest ``keep``."""
    folder = Path(run_dir) / "checkpoints"
    path = save(model, vec_env, folder / f"step_{int(model.num_timesteps):012d}", meta)
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old.path, ignore_errors=True)
    return path


def list_checkpoints(run_dir: Path) -> list[Checkpoint]:
    """Complete checkpoints (``meta.json`` present), oldest first."""
    folder = Path(run_dir) / "checkpoints"
    out = []
    for path in sorted(folder.glob("step_*")) if folder.exists() else []:
        if (path / META).exists():
            out.append(read(path))
    return out


def read(path: Path) -> Checkpoint:
    """The checkpoint in ``path`` with its ``meta.json`` (``{"corrupt": True}`` if unreadable,
    not a JSON object or without integer timesteps; none: empty)."""
    meta: dict = {}
    if (path / META).exists():
        try:
            meta = json.loads((path / META).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            meta = None
    try:
        return Checkpoint(path, int(meta.get("timesteps", -1)), meta)
    except (AttributeError, TypeError, ValueError):  # not an object, or timesteps not an integer
        return Checkpoint(path, -1, {"corrupt": True, "timesteps": -1})


def latest(run_dir: Path) -> Checkpoint:
    """The newest checkpoint of ``run_dir``, or a ConfigError saying why there is none."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"resume: run directory {run_dir} does not exist")
    found = list_checkpoints(run_dir)
    if not found:
        raise ConfigError(f"resume: no checkpoint in {run_dir / 'checkpoints'} (nothing to resume)")
    return found[-1]


def load_model(algo_cls, checkpoint: Checkpoint, **kwargs):
    """Load a checkpoint's model, turning any corruption into a one-line ConfigError."""
    if checkpoint.meta.get("corrupt"):
        raise ConfigError(f"checkpoint {checkpoint.path}: meta.json is corrupt; delete this checkpoint to use the previous one")
    try:
        return algo_cls.load(checkpoint.model, **kwargs)
    except Exception as err:  # zipfile, pickle, torch and KeyError failures all mean corrupt
        raise ConfigError(
            f"checkpoint {checkpoint.model}: cannot be loaded ({type(err).__name__}: {str(err)[:80]});"
            " delete this checkpoint directory to resume from the previous one"
        ) from err


def load_vecnormalize(checkpoint: Checkpoint, venv):
    from stable_baselines3.common.vec_env import VecNormalize

    try:
        return VecNormalize.load(str(checkpoint.vecnormalize), venv)
    except Exception as err:
        raise ConfigError(
            f"checkpoint {checkpoint.vecnormalize}: cannot be loaded ({type(err).__name__}); delete this checkpoint"
            " directory to resume from the previous one"
        ) from err


def _fsync_dir(path: Path) -> None:
    """fsync a directory (or a file), ignoring platforms that cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_replay_buffer(model, checkpoint: Checkpoint) -> None:
    """Restore an off-policy model's replay buffer, or a one-line ConfigError if corrupt."""
    try:
        model.load_replay_buffer(checkpoint.replay_buffer)
    except Exception as err:
        raise ConfigError(f"checkpoint {checkpoint.replay_buffer}: cannot be loaded ({type(err).__name__}); "
                          "delete this checkpoint directory to resume from the previous one") from err


def check_resumable(checkpoint: Checkpoint, normalises: bool, off_policy: bool, allow_missing: bool) -> list[str]:
    """The training state ``checkpoint`` lacks (normalisation statistics, replay buffer);
    a ConfigError unless ``allow_missing`` (then the caller warns and starts that state fresh)."""
    missing = []
    if normalises and checkpoint.vecnormalize is None:
        missing.append("vecnormalize.pkl (the normalisation statistics)")
    if off_policy and checkpoint.replay_buffer is None:
        missing.append("replay_buffer.pkl (the replay buffer)")
    if missing and not allow_missing:
        raise ConfigError(f"resume: {checkpoint.path} lacks {' and '.join(missing)}; resuming would silently "
                          "start it afresh. Pass resume_allow_missing=true to continue anyway")
    return missing


def find(run_dir: Path, spec, field: str = "checkpoint") -> Checkpoint:
    """``spec`` null / latest / last: the newest ``checkpoints/step_*``; ``best``:
    ``<run_dir>/best``; otherwise a checkpoint directory."""
    run_dir = Path(run_dir)
    accepted = "accepted: null (the newest checkpoint), best, or a checkpoint directory"
    if spec in (None, "", "latest", "last"):
        found = list_checkpoints(run_dir)
        if not found:
            raise ConfigError(f"{field}: no checkpoint in {run_dir / 'checkpoints'} (train the run first, or pass "
                              "checkpoint=best or a checkpoint directory)")
        return found[-1]
    path = run_dir / "best" if str(spec) == "best" else Path(str(spec))
    if not (path / "model.zip").is_file():
        raise ConfigError(f"{field}: {path} holds no model.zip; {accepted}")
    return read(path)
