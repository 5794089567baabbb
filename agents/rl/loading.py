"""Loading a training run's policy for evaluation, benchmarking or export, executing nothing
from the run's files.

* ``config.yaml`` is read with YAML's safe loader; its task is built through the task
  registry only (``agents.registry.build_task``), so no ``_target_`` in it can run code. A run
  saves its config resolved, so one over :data:`MAX_CONFIG_BYTES`, with YAML anchors or
  aliases (an alias bomb expands a kilobyte into gigabytes) or with ``${...}``
  interpolations (``${oc.env:...}`` would read the environment) is refused before it is built
  or resolved.
* The network is rebuilt from the config (algorithm, policy kwargs, the task's spaces) and
  its weights are read from ``model.zip``'s ``policy.pth`` with
  ``torch.load(weights_only=True)``; SB3's cloudpickled fields are never read.
* Normalisation statistics come from ``vecnormalize.json``.
* Resuming builds the model the same way and loads the rest of the training state into it
  (``agents.rl.checkpoints.restore``).

A corrupt file gets a one-line ConfigError naming it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

from agents.registry import build_task
from agents.rl import checkpoints
from agents.rl.adapter import ObsNormalizer, SB3Policy
from agents.rl.algorithms import Algorithm, agent_settings, algorithm
from agents.task import Task
from envs.core.config import ConfigError

MAX_CONFIG_BYTES = 1_000_000
"""Largest ``config.yaml`` of a run that is read (a saved run config is a few kilobytes)."""


@dataclass
class TrainedRun:
    """A run directory of ``experiments.train``: its config, its task (as trained) and algorithm."""

    path: Path
    cfg: DictConfig
    task: Task
    algorithm: Algorithm
    shared: bool

    @property
    def agent(self) -> str:
        return self.algorithm.name

    def essentials(self) -> dict[str, Any]:
        """What a policy of this run needs to act on any compatible env: the model interface's
        essentials and the trained env config."""
        interface = self.task.model_interface(self.shared, maskable=self.algorithm.maskable)
        return {**interface.essentials(), "env_config": self.task.env_kwargs()}


def read_run_config(run_dir: Path, field: str) -> DictConfig:
    """A run directory's ``config.yaml`` (safe YAML, checked as the module docstring says before
    it is built), or a one-line ConfigError; nothing in it is resolved."""
    expected = "expected a run directory of experiments.train"
    if not run_dir.is_dir():
        raise ConfigError(f"{field}: {run_dir} is not a directory; {expected}")
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{field}: {run_dir} has no config.yaml; {expected}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{field}: {path} is {path.stat().st_size:,} bytes, over the {MAX_CONFIG_BYTES:,} of a run's "
                          f"config; {expected}")
    try:
        text = path.read_text()
        _refuse_aliases(text, path, field)
        cfg = OmegaConf.create(text)
    except ConfigError:
        raise
    except Exception as err:  # YAML or OmegaConf errors: the file is garbage
        raise ConfigError(f"{field}: {path} is not a valid config ({type(err).__name__}); {expected}") from None
    _refuse_interpolations(cfg, path, field)
    if not isinstance(cfg, DictConfig) or not isinstance(cfg.get("env"), DictConfig) \
            or not isinstance(cfg.get("agent"), DictConfig) or "name" not in cfg.agent:
        raise ConfigError(f"{field}: {path} lacks the env and agent sections of a training run; {expected}")
    return cfg


def _refuse_aliases(text: str, path: Path, field: str) -> None:
    """A ConfigError at the first YAML anchor or alias (read as events: nothing is built)."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            line = event.start_mark.line + 1
            raise ConfigError(f"{field}: {path} line {line} has a YAML anchor or alias (&/*), which a saved run config "
                              "never has; refusing to expand it")


def _refuse_interpolations(node, path: Path, field: str, prefix: str = "") -> None:
    """A ConfigError naming the first key whose value holds an ``${...}`` interpolation (read
    unresolved)."""
    if isinstance(node, (DictConfig, ListConfig)):
        node = OmegaConf.to_container(node, resolve=False)
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(value, str) and "${" in value:
            raise ConfigError(f"{field}: {path}: {prefix}{key} is an interpolation (${{...}}), which a saved "
                              "(resolved) run config never has; refusing to resolve it")
        _refuse_interpolations(value, path, field, f"{prefix}{key}.")


def open_run(run_dir, field: str = "run_dir") -> TrainedRun:
    run_dir = Path(str(run_dir))
    cfg = read_run_config(run_dir, field)
    try:
        env_cfg = OmegaConf.to_container(cfg.env, resolve=True)
    except Exception as err:
        raise ConfigError(f"{field}: {run_dir / 'config.yaml'}: env section cannot be resolved ({err})") from None
    task = build_task(env_cfg)
    return TrainedRun(run_dir, cfg, task, algorithm(str(cfg.agent.name)), bool(cfg.get("shared", False)))


def model_spaces(run: TrainedRun) -> tuple[gym.Space, gym.Space]:
    """The observation and action spaces the run's model was trained on."""
    if run.shared:
        batch = run.task.shared_batch(1, 0)
        return batch.observation_space, batch.action_space
    env = run.task.training_env_fn(run.algorithm.maskable)()
    spaces = env.observation_space, env.action_space
    env.close()
    return spaces


class _SpacesEnv(gym.Env):
    """An env that only carries spaces, to build a model for inference."""

    def __init__(self, observation_space, action_space):
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed=None, options=None):  # pragma: no cover - never stepped
        return self.observation_space.sample(), {}

    def step(self, action):  # pragma: no cover - never stepped
        raise NotImplementedError


def build_model(cfg: DictConfig, algo: Algorithm, env, seed: int = 0, extra: dict | None = None):
    """An SB3 model of ``algo`` with the config's agent settings on ``env``; bad
    ``agent.kwargs`` / ``agent.policy_kwargs`` are one-line ConfigErrors."""
    cls = algo.load_class()
    kwargs, policy_kwargs = agent_settings(cfg.agent)
    kwargs.update(extra or {})
    try:
        return cls(str(cfg.agent.get("policy", "MlpPolicy")), env, seed=seed, device="cpu", verbose=0,
                   policy_kwargs=policy_kwargs, **kwargs)
    except (TypeError, ValueError, AssertionError, KeyError) as err:
        text = " ".join(str(err).split())[:160] or type(err).__name__
        raise ConfigError(f"agent.kwargs: {algo.name} rejects its settings: {text}") from None


def spaces_model(run: TrainedRun, **extra):
    """The run's model as its config builds it, on an env of its spaces only (no replay buffer
    to speak of); load weights (:func:`load_weights`) or a whole training state into it."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    obs_space, act_space = model_spaces(run)
    if run.algorithm.off_policy:
        extra = {"buffer_size": 1, "learning_starts": 0, **extra}
    return build_model(run.cfg, run.algorithm, DummyVecEnv([lambda: _SpacesEnv(obs_space, act_space)]), extra=extra)


def load_weights(policy, checkpoint: checkpoints.Checkpoint) -> None:
    """Load ``policy.pth`` of a checkpoint's ``model.zip`` into ``policy`` (weights only)."""
    if checkpoint.meta.get("corrupt"):
        raise ConfigError(f"checkpoint {checkpoint.path}: meta.json is corrupt; delete this checkpoint")
    try:
        with zipfile.ZipFile(checkpoint.model) as archive:
            state = checkpoints.torch_member(archive, "policy.pth")
        policy.load_state_dict(state)
    except Exception as err:  # zip, unpickling (refused by weights_only) or shape errors
        raise ConfigError(f"checkpoint {checkpoint.model}: cannot be loaded as weights ({type(err).__name__}: "
                          f"{' '.join(str(err).split())[:80]})") from None


def load_normalizer(run: TrainedRun, checkpoint: checkpoints.Checkpoint) -> ObsNormalizer | None:
    if not run.cfg.get("normalize", {}).get("obs", False):
        return None
    if checkpoint.normalisation is None:
        raise ConfigError(f"checkpoint: {checkpoint.path} has no vecnormalize.json, but the run normalises "
                          "observations (normalize.obs=true); its policy cannot be rebuilt faithfully")
    return ObsNormalizer.load(checkpoint.normalisation)


def load_policy(run: TrainedRun, checkpoint: checkpoints.Checkpoint, task: Task | None = None,
                name: str | None = None) -> SB3Policy:
    """The run's policy at ``checkpoint`` as a policy of ``task``'s env (default: the task it
    was trained on; another task of the same operation must be compatible, e.g. a shared
    fulfilment-centre policy on more SKUs)."""
    policy = inference_network(run)
    load_weights(policy, checkpoint)
    policy.set_training_mode(False)
    interface = (task or run.task).model_interface(run.shared, run.essentials())
    return SB3Policy(policy, interface, load_normalizer(run, checkpoint), name or run.agent)


class _NoOptimizer:
    """Stands in for the policy's optimizer when the network only acts: an optimizer's first
    construction imports ``torch._dynamo`` (about 2 CPU-seconds), and nothing here trains."""

    def __init__(self, params, **kwargs):
        self.param_groups: list = []


def inference_network(run: TrainedRun):
    """The run's policy network (untrained weights), built as the algorithm builds it
    (:func:`spaces_model` with the config's settings, then the algorithm's own ``_setup_model``),
    except that the policy gets no optimizer: the same modules, so the same weights load and the
    same actions come out."""
    model = spaces_model(run, _init_setup_model=False)
    model.policy_kwargs = {**model.policy_kwargs, "optimizer_class": _NoOptimizer}
    model._setup_model()
    return model.policy


def preferred_checkpoint(run: TrainedRun, which: str = "best") -> checkpoints.Checkpoint:
    """``best/`` when ``which`` is best and it exists, else the newest checkpoint."""
    best = run.path / "best"
    if which == "best" and (best / "model.zip").is_file():
        return checkpoints.find(run.path, "best")
    return checkpoints.find(run.path, None, field="models")
