"""Atomic checkpoints of a training run, in files that run no code when read.

A checkpoint is a directory ``checkpoints/step_<timesteps>/`` holding

* ``model.zip``: SB3's archive; its ``policy.pth``, optimizer (``<name>.optimizer.pth``) and
  ``pytorch_variables.pth`` members (e.g. SAC's entropy coefficient) are tensors read with
  ``torch.load(weights_only=True)``; its cloudpickled ``data`` member is never read;
* ``vecnormalize.json`` (when observations or rewards are normalised): VecNormalize's full
  state as numbers (observation and return statistics, clipping, gamma, epsilon, returns);
* ``replay_buffer.npz`` (off-policy algorithms): the filled part of the replay buffer as
  arrays, read with ``allow_pickle=False``;
* ``meta.json``: timesteps, wall-clock and CPU seconds, algorithm, and ``state``, the model's
  training counters (``num_timesteps``, ``_n_updates``, ``_episode_num``, DQN's ``_n_calls``
  and exploration rate, DCL's ``generation`` ...).

Trust: nothing in a run directory is unpickled. Resuming rebuilds the model from the run's
``config.yaml`` (``agents.rl.loading``) and loads the state above into it (:func:`restore`);
evaluating, benchmarking and exporting read only the weights and ``vecnormalize.json``. A
crafted file is refused with a one-line ConfigError, never executed. A checkpoint written
before checkpoints were pickle-free (``vecnormalize.pkl``, ``replay_buffer.pkl``, no
``state`` in ``meta.json``) is refused for resuming; its weights still evaluate and export.

Each checkpoint is written into a hidden temporary directory and renamed into place, so a
crash mid-write leaves every earlier checkpoint intact and never a half-written one under a
``step_*`` name; a kill between replacing a checkpoint of the same name and renaming the new
one into place is repaired by :func:`recover` (the previous version is renamed back). The
best model on the validation seeds is kept the same way in ``best/``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.core.config import ConfigError

META = "meta.json"
NORMALISATION = "vecnormalize.json"
REPLAY = "replay_buffer.npz"
COUNTERS = ("num_timesteps", "_n_updates", "_episode_num", "_n_calls", "exploration_rate",
            "_current_progress_remaining")
"""Training counters of SB3 models saved in ``meta.json``'s ``state`` (those a model has); an
algorithm adds its own with a ``resume_counters`` attribute (DCL: ``generation``)."""
BUFFER_FIELDS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
_DEBRIS = re.compile(r"^\.(tmp|old)-(.+)-\d+$")
DELETE = "delete this checkpoint directory to resume from the previous one"


@dataclass
class Checkpoint:
    path: Path
    timesteps: int
    meta: dict

    @property
    def model(self) -> Path:
        return self.path / "model.zip"

    @property
    def normalisation(self) -> Path | None:
        p = self.path / NORMALISATION
        return p if p.exists() else None

    @property
    def replay_buffer(self) -> Path | None:
        p = self.path / REPLAY
        return p if p.exists() else None


def save(model, vec_env, target: Path, meta: dict) -> Path:
    """Write a checkpoint atomically to ``target`` (replacing an older one of that name)."""
    target = Path(target)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model.save(tmp / "model.zip")
        if vec_env is not None and hasattr(vec_env, "ret_rms"):  # a VecNormalize
            (tmp / NORMALISATION).write_text(json.dumps(normalisation_record(vec_env)))
        if hasattr(model, "save_replay_buffer") and getattr(model, "replay_buffer", None) is not None:
            save_replay_buffer(model.replay_buffer, tmp / REPLAY)
        full_meta = {"timesteps": int(model.num_timesteps), "saved_at": time.time(), **meta,
                     "state": training_counters(model)}
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
        target.rename(old)  # a kill from here to the next rename: recover() renames it back
    tmp.rename(target)
    _fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def recover(folder: Path, only: str | None = None) -> None:
    """Repair what a killed :func:`save` leaves in ``folder`` (of checkpoint ``only``, if
    given): a ``.old-<name>-<pid>`` whose ``<name>`` is gone is the newest version of it and is
    renamed back; other ``.old-*`` and ``.tmp-*`` directories are removed."""
    folder = Path(folder)
    debris = sorted(p for p in folder.iterdir() if p.is_dir() and _DEBRIS.match(p.name)) if folder.is_dir() else []
    for path in debris:
        kind, name = _DEBRIS.match(path.name).groups()
        if only is not None and name != only:
            continue
        if kind == "old" and not (folder / name).exists():
            path.rename(folder / name)
        else:
            shutil.rmtree(path, ignore_errors=True)


def normalisation_record(vec_env) -> dict:
    """VecNormalize as plain numbers (``vecnormalize.json``): ``obs`` is the observation
    transform evaluation and export apply, ``state`` everything resuming restores."""
    from agents.rl.adapter import ObsNormalizer

    obs = ObsNormalizer.from_vec_env(vec_env)
    state = {"norm_obs": bool(vec_env.norm_obs), "norm_reward": bool(vec_env.norm_reward),
             "norm_obs_keys": vec_env.norm_obs_keys, "clip_obs": float(vec_env.clip_obs),
             "clip_reward": float(vec_env.clip_reward), "gamma": float(vec_env.gamma),
             "epsilon": float(vec_env.epsilon), "obs_rms": _rms_record(getattr(vec_env, "obs_rms", None)),
             "ret_rms": _rms_record(vec_env.ret_rms), "returns": np.asarray(vec_env.returns).tolist()}
    return {"norm_obs": obs is not None, "norm_reward": state["norm_reward"],
            "obs": None if obs is None else obs.to_dict(), "state": state}


def _rms_record(rms):
    if rms is None or isinstance(rms, dict):
        return None if rms is None else {key: _rms_record(value) for key, value in rms.items()}
    return {"mean": np.asarray(rms.mean).tolist(), "var": np.asarray(rms.var).tolist(), "count": float(rms.count)}


def training_counters(model) -> dict:
    """The model's counters of :data:`COUNTERS` (and its ``resume_counters``), as JSON numbers."""
    names = (*COUNTERS, *getattr(model, "resume_counters", ()))
    return {name: _number(getattr(model, name)) for name in names if hasattr(model, name)}


def _number(value):
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else float(value)


def save_replay_buffer(buffer, path: Path) -> None:
    """The filled rows of an SB3 replay buffer (dict observations: one array per key) and its
    ``pos`` / ``full`` as an ``.npz`` archive."""
    rows = buffer.buffer_size if buffer.full else buffer.pos
    arrays = {"pos": np.asarray(buffer.pos), "full": np.asarray(bool(buffer.full))}
    for name, value in _buffer_arrays(buffer):
        arrays[name] = value[:rows]
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _buffer_arrays(buffer):
    """(name, array) of a buffer's storage: ``observations`` or ``observations.<key>`` ..."""
    for field in BUFFER_FIELDS:
        value = getattr(buffer, field, None)
        if isinstance(value, dict):
            yield from ((f"{field}.{key}", array) for key, array in value.items())
        elif value is not None:
            yield field, value


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
    """The newest checkpoint of ``run_dir`` (after :func:`recover`), or a ConfigError saying
    why there is none."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"resume: run directory {run_dir} does not exist")
    recover(run_dir / "checkpoints")
    recover(run_dir, "best")
    found = list_checkpoints(run_dir)
    if not found:
        raise ConfigError(f"resume: no checkpoint in {run_dir / 'checkpoints'} (nothing to resume)")
    return found[-1]


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


def check_resumable(checkpoint: Checkpoint, normalises: bool, off_policy: bool, allow_missing: bool) -> list[str]:
    """A ConfigError if ``checkpoint`` is corrupt or predates pickle-free checkpoints; the
    training state it lacks (normalisation statistics, replay buffer): a ConfigError unless
    ``allow_missing`` (then the caller warns and starts that state fresh)."""
    if checkpoint.meta.get("corrupt"):
        raise ConfigError(f"checkpoint {checkpoint.path}: meta.json is corrupt; {DELETE}")
    if not isinstance(checkpoint.meta.get("state"), dict):
        raise ConfigError(f"resume: checkpoint {checkpoint.path} predates pickle-free checkpoints (its training state "
                          "is only in pickles) and cannot be resumed safely; start a new run (its weights still "
                          "evaluate and export)")
    missing = []
    if normalises and checkpoint.normalisation is None:
        missing.append(f"{NORMALISATION} (the normalisation statistics)")
    if off_policy and checkpoint.replay_buffer is None:
        missing.append(f"{REPLAY} (the replay buffer)")
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


# -- reading a checkpoint back, executing nothing -------------------------------------------------
def torch_member(archive: zipfile.ZipFile, member: str):
    """A ``.pth`` member of ``model.zip``, read with ``torch.load(weights_only=True)`` (tensors
    and plain containers only: a pickle of anything else is refused, not run)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes on foreign pickle protocols
        return torch.load(io.BytesIO(archive.read(member)), map_location="cpu", weights_only=True)


def restore(model, checkpoint: Checkpoint, replay: bool = True) -> None:
    """Load a checkpoint's training state into ``model``, freshly built from the run's config
    on the resumed VecEnv: network weights and optimizer states, torch variables, the
    counters of ``meta.json`` and (off-policy, ``replay``) the replay buffer; one-line ConfigErrors."""
    from stable_baselines3.common.save_util import recursive_setattr

    names, variables = model._get_torch_save_params()
    try:
        with zipfile.ZipFile(checkpoint.model) as archive:
            params = {name: torch_member(archive, f"{name}.pth") for name in names}
            tensors = torch_member(archive, "pytorch_variables.pth") if variables else {}
        model.set_parameters(params, exact_match=True, device="cpu")
        for name in variables:
            recursive_setattr(model, f"{name}.data", tensors[name].data)
    except Exception as err:  # zip, unpickling refused by weights_only, missing members, shapes
        raise ConfigError(f"checkpoint {checkpoint.model}: cannot be loaded ({type(err).__name__}: "
                          f"{' '.join(str(err).split())[:80]}); {DELETE}") from None
    _restore_counters(model, checkpoint)
    if replay and getattr(model, "replay_buffer", None) is not None and checkpoint.replay_buffer is not None:
        restore_replay_buffer(model.replay_buffer, checkpoint.replay_buffer)


def _restore_counters(model, checkpoint: Checkpoint) -> None:
    state = checkpoint.meta.get("state")
    for name, value in (state.items() if isinstance(state, dict) else ()):
        if name not in (*COUNTERS, *getattr(model, "resume_counters", ())) or not hasattr(model, name):
            continue
        integer = isinstance(getattr(model, name), int)
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)) \
                or not np.isfinite(value):
            raise ConfigError(f"checkpoint {checkpoint.path / META}: state.{name} must be "
                              f"{'an integer' if integer else 'a number'}, got {value!r}")
        setattr(model, name, value)


def restore_replay_buffer(buffer, path: Path) -> None:
    """Fill a fresh SB3 replay buffer from :func:`save_replay_buffer`'s archive; a ConfigError
    if it is unreadable or does not fit the buffer (rows, shapes, dtypes)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            pos, full = int(data["pos"]), bool(data["full"])
            if not 0 <= pos < buffer.buffer_size:
                raise ValueError(f"pos {pos} outside the buffer of {buffer.buffer_size} rows")
            rows = buffer.buffer_size if full else pos
            for name, target in _buffer_arrays(buffer):
                array = data[name]
                if array.shape != (rows, *target.shape[1:]) or array.dtype != target.dtype:
                    raise ValueError(f"{name} is {array.dtype}{list(array.shape)}, expected "
                                     f"{target.dtype}{[rows, *target.shape[1:]]}")
                target[:rows] = array
    except Exception as err:  # not a zip / npz, object arrays refused, missing arrays, shapes
        raise ConfigError(f"checkpoint {path}: cannot be loaded ({type(err).__name__}: "
                          f"{' '.join(str(err).split())[:100]}); {DELETE}") from None
    buffer.pos, buffer.full = pos, full


def restore_normalisation(venv, path: Path):
    """``venv`` in a VecNormalize with the state of ``vecnormalize.json`` (``state``); a
    ConfigError if it lacks it or does not fit ``venv``."""
    from stable_baselines3.common.vec_env import VecNormalize

    try:
        state = json.loads(Path(path).read_text())["state"]
        wrapped = VecNormalize(venv, norm_obs=bool(state["norm_obs"]), norm_reward=bool(state["norm_reward"]),
                               clip_obs=float(state["clip_obs"]), clip_reward=float(state["clip_reward"]),
                               gamma=float(state["gamma"]), epsilon=float(state["epsilon"]),
                               norm_obs_keys=state.get("norm_obs_keys"))
        if wrapped.norm_obs:
            wrapped.obs_rms = _rms_restored(wrapped.obs_rms, state["obs_rms"])
        wrapped.ret_rms = _rms_restored(wrapped.ret_rms, state["ret_rms"])
        wrapped.returns = _array(state["returns"], wrapped.returns.shape, "returns")
    except Exception as err:  # unreadable JSON, missing keys, wrong types or shapes
        raise ConfigError(f"checkpoint {path}: not a valid normalisation state ({type(err).__name__}: "
                          f"{' '.join(str(err).split())[:100]}); {DELETE}") from None
    return wrapped


def _rms_restored(fresh, record):
    if isinstance(fresh, dict):
        if not isinstance(record, dict) or set(record) != set(fresh):
            raise ValueError(f"expected statistics of the keys {sorted(fresh)}")
        return {key: _rms_restored(fresh[key], record[key]) for key in fresh}
    fresh.mean = _array(record["mean"], fresh.mean.shape, "mean")
    fresh.var = _array(record["var"], fresh.var.shape, "var")
    fresh.count = float(record["count"])
    if np.any(fresh.var < 0) or not fresh.count > 0:
        raise ValueError("var must be >= 0 and count > 0")
    return fresh


def _array(values, shape: tuple, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be {len(shape)}-d finite numbers of shape {list(shape)}")
    return array
