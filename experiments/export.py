"""Export a trained policy to ONNX or TorchScript, check it against SB3, write a policy card.

    python -m experiments.export run_dir=outputs/train/<run>                  # ONNX, newest
    python -m experiments.export run_dir=outputs/train/<run> checkpoint=best  # best on validation
    python -m experiments.export run_dir=... checkpoint=<run>/checkpoints/step_000000020000
    python -m experiments.export run_dir=... format=torchscript output=policy.pt

What is exported: the *deterministic* policy of a checkpoint of ``experiments.train``, as
one graph from raw ``LostSales-v0`` observations to orders, so that acting needs nothing
but the file (and onnxruntime or torch):

* input ``obs``: float32 ``(batch, obs_dim)`` raw observations (dynamic batch axis):
  index 0 the on-hand stock, then the ``L - 1`` pipeline orders, oldest (arriving next)
  first; ``obs_dim = max(L, 1)``;
* the run's VecNormalize observation normalisation, baked in: ``clip((obs - mean) /
  sqrt(var + eps), -clip_obs, clip_obs)`` computed in float64 and cast to float32, as
  ``agents.rl.SB3Policy`` (and VecNormalize) do;
* the policy network's deterministic action: PPO / A2C / MaskablePPO discrete: the argmax
  of the action probabilities (softmax of the logits, as SB3's ``mode()``); MaskablePPO's
  action mask (orders that raise the inventory position above ``level_max``, a function
  of the observation) is computed and applied *inside* the graph; PPO / A2C Box: the
  Gaussian mean clipped to the action bounds; DQN: the argmax of Q; SAC / TD3: the
  actor's tanh-squashed output unscaled to the action bounds. RecurrentPPO is not
  supported (its LSTM state would have to be an input and an output);
* the action parameterisation, baked in: ``order_up_to`` (the action is a target
  inventory position; order = ``clip(level - position, 0, q_max)``) or ``order``
  (the action is the quantity), with NumPy's round-half-to-even.

Outputs: ``action`` (the model's action in its *training* action space: int64 ``(batch,)``
for Discrete, float32 ``(batch, 1)`` for Box) and ``order`` (int64 ``(batch,)`` order
quantities in ``0..q_max``). ONNX files use opset ``opset`` (>= 17), exported with the
TorchScript-based exporter (``dynamo=False``); TorchScript files are traced modules.

Parity before success: the SB3 policy (built exactly as ``experiments.train`` builds it)
is rolled out on the evaluation seeds ``EVAL_SEED_BASE + r`` (``parity.reps`` x
``parity.periods`` >= 1000 observations), the exported file is run on every observation
with onnxruntime (CPUExecutionProvider) or ``torch.jit.load``, and: discrete actions and
all orders must be identical; continuous actions must agree within ``parity.atol`` and
orders may differ only where the value before rounding is within ``parity.boundary_tol``
of a .5 boundary (counted in the card). The exported policy is also rolled out on the same
scenario and its per-replication costs compared with SB3's. On a mismatch nothing is
written and the exit status is 1; bad arguments exit 2 with one line on stderr.

Outputs (default ``<run_dir>/export/policy.onnx`` or ``policy.pt``): the file, and its
policy card ``<file>.json``: env id and env config, observation and action spaces (with
the meaning of every observation index), agent, parameterisation, ``level_max``,
training timesteps, the run's KPIs (``results.csv`` row of the agent, last ``eval.csv``
row), input / output names, opset, SHA-256 of the file, parity statistics, export date
and how to act with it. The essentials of the card are also embedded in the file
(ONNX ``metadata_props`` / TorchScript extra file ``fulfillgym``).

Acting with the file alone (NumPy + onnxruntime + the env; no torch, no stable-baselines3)::

    import json
    import gymnasium as gym, numpy as np, onnxruntime as ort
    import envs  # noqa: F401  (registers fulfillgym/LostSales-v0; no torch, no SB3)

    path = "outputs/train/<run>/export/policy.onnx"
    card = json.load(open(path + ".json"))  # the policy card written beside the file
    cfg = card["env_config"]  # the env the policy was trained on
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    env = gym.make(card["env_id"], **cfg)
    obs, _ = env.reset(seed=0)
    for _ in range(100):
        _, order = session.run(None, {"obs": obs[None, :].astype(np.float32)})  # raw obs in
        q = int(order[0])  # the order quantity; a continuous env takes 2 * q / q_max - 1
        action = q if cfg["action_type"] == "discrete" else np.float32([2 * q / cfg["q_max"] - 1])
        obs, reward, terminated, truncated, info = env.step(action)

Within the project, ``agents.exported.OnnxPolicy(path)`` speaks the policy protocol and
``python -m experiments.benchmark onnx=[path/policy.onnx]`` benchmarks the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from agents.rl.exported import METADATA_KEY, card_path, env_config, load_exported, sha256
from envs.core.config import ConfigError, check_choice, check_float, check_int
from experiments.common import clean_errors

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
INPUT_NAMES = ["obs"]
OUTPUT_NAMES = ["action", "order"]
MIN_PARITY_OBS = 1000
HUGE_NEG = -1e8  # sb3_contrib's MaskableCategorical logit for masked actions


class ParityError(RuntimeError):
    """The exported file does not reproduce the SB3 policy (the message is one line)."""


# -- the run ------------------------------------------------------------------------------
@dataclass
class Run:
    """A checkpoint of a training run, loaded as ``experiments.train`` loads it."""

    path: Path
    cfg: DictConfig  # the run's resolved config.yaml
    config: Any  # LostSalesConfig
    checkpoint: Any  # agents.checkpoints.Checkpoint
    model: Any
    policy: Any  # agents.rl.SB3Policy, as train.policy_factory builds it

    @property
    def agent(self) -> str:
        return str(self.cfg.agent.name)


def validate(cfg: DictConfig) -> None:
    check_choice("format", cfg.format, FORMATS)
    check_int("opset", cfg.opset, 17, 20)  # 20: the TorchScript-based exporter's newest
    check_int("parity.reps", cfg.parity.reps, 1)
    check_int("parity.periods", cfg.parity.periods, 1)
    if cfg.parity.reps * cfg.parity.periods < MIN_PARITY_OBS:
        raise ConfigError(f"parity.periods: parity.reps * parity.periods must be >= "
                          f"{MIN_PARITY_OBS} observations, got {cfg.parity.reps} * "
                          f"{cfg.parity.periods}")
    check_float("parity.atol", cfg.parity.atol, 0.0)
    check_float("parity.boundary_tol", cfg.parity.boundary_tol, 0.0, 0.5)
    if not cfg.run_dir:
        raise ConfigError("run_dir: required, a run directory of experiments.train "
                          "(e.g. run_dir=outputs/train/<run>)")


def find_checkpoint(run_dir: Path, spec):
    """The newest ``checkpoints/step_*`` (``spec`` null), ``best/`` or a checkpoint directory."""
    from agents.rl import checkpoints

    accepted = "accepted: null (the newest checkpoint), best, or a checkpoint directory"
    if spec in (None, "", "latest", "last"):
        found = checkpoints.list_checkpoints(run_dir)
        if not found:
            raise ConfigError(f"run_dir: no checkpoint in {run_dir / 'checkpoints'} (nothing to "
                              "export; train the run first, or pass checkpoint=best or a "
                              "checkpoint directory)")
        return found[-1]
    path = run_dir / "best" if str(spec) == "best" else Path(str(spec))
    if not (path / "model.zip").is_file():
        raise ConfigError(f"checkpoint: {path} holds no model.zip; {accepted}")
    meta = {}
    if (path / checkpoints.META).exists():
        try:
            meta = json.loads((path / checkpoints.META).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            meta = {"corrupt": True}
    return checkpoints.Checkpoint(path, int(meta.get("timesteps", -1)), meta)


def load_run(cfg: DictConfig) -> Run:
    from agents.rl import checkpoints
    from agents.rl.algorithms import ALGORITHMS, algorithm
    from experiments.common import lost_sales_config

    path = Path(str(cfg.run_dir))
    expected = "expected a run directory of experiments.train"
    if not path.is_dir():
        raise ConfigError(f"run_dir: {path} does not exist; {expected}")
    if not (path / "config.yaml").is_file():
        raise ConfigError(f"run_dir: {path} has no config.yaml; {expected}")
    train_cfg = OmegaConf.load(path / "config.yaml")
    env_id = train_cfg.env.get("id")
    if env_id != "fulfillgym/LostSales-v0":
        raise ConfigError(f"run_dir: {path} was trained on {env_id}; experiments.export supports "
                          "fulfillgym/LostSales-v0 runs only (fulfilment-centre policies are not exportable yet)")
    algo = algorithm(train_cfg.agent.name)
    if algo.recurrent:
        supported = ", ".join(k for k, a in ALGORITHMS.items() if not a.recurrent)
        raise ConfigError(f"agent={train_cfg.agent.name}: export is not supported for recurrent "
                          "policies (the LSTM state would be an input and an output); supported "
                          f"agents: {supported}")
    config = lost_sales_config(train_cfg.env)
    checkpoint = find_checkpoint(path, cfg.checkpoint)
    if train_cfg.normalize.obs and checkpoint.vecnormalize is None:
        raise ConfigError(f"checkpoint: {checkpoint.path} has no vecnormalize.pkl, but the run "
                          "normalises observations (normalize.obs=true); it cannot be exported "
                          "faithfully")
    from experiments.train import build_vec_env, policy_factory  # torch and SB3 from here on

    model = checkpoints.load_model(algo.load_class(), checkpoint, device="cpu")
    train_cfg.n_envs = 1  # the venv only carries the saved statistics
    venv = build_vec_env(train_cfg, config, checkpoint)
    policy = policy_factory(train_cfg, config, train_cfg.agent.name)(model, venv)
    venv.close()
    return Run(path, train_cfg, config, checkpoint, model, policy)


# -- the exported graph ---------------------------------------------------------------------
def build_graph(run: Run):
    """The deterministic policy of ``run.policy`` as one ``torch.nn.Module``: raw obs ->
    (action, order). Every step mirrors ``SB3Policy.model_action`` and ``SB3Policy.orders``."""
    import torch
    from gymnasium import spaces
    from torch import nn

    sb3, model = run.policy, run.model
    policy = model.policy
    if not isinstance(model.observation_space, spaces.Box):
        raise ConfigError(f"agent={run.agent}: only Box observation spaces can be exported")
    discrete = isinstance(model.action_space, spaces.Discrete)
    name = run.agent

    class ActorCritic(nn.Module):  # PPO, A2C, MaskablePPO: logits or the Gaussian mean
        def __init__(self):
            super().__init__()
            self.features_extractor = policy.pi_features_extractor
            self.mlp_extractor = policy.mlp_extractor
            self.action_net = policy.action_net
            self.squash = bool(policy.squash_output)  # gSDE with squash_output=True

        def forward(self, z):
            out = self.action_net(self.mlp_extractor.forward_actor(self.features_extractor(z)))
            return torch.tanh(out) if self.squash and not discrete else out

    class QNet(nn.Module):  # DQN: Q-values
        def __init__(self):
            super().__init__()
            self.q_net = policy.q_net

        def forward(self, z):
            return self.q_net(z)

    class SquashedActor(nn.Module):  # SAC: tanh of the Gaussian mean
        def __init__(self):
            super().__init__()
            actor = policy.actor
            self.features_extractor = actor.features_extractor
            self.latent_pi, self.mu = actor.latent_pi, actor.mu

        def forward(self, z):
            return torch.tanh(self.mu(self.latent_pi(self.features_extractor(z))))

    class DeterministicActor(nn.Module):  # TD3: mu already ends in tanh
        def __init__(self):
            super().__init__()
            self.actor = policy.actor

        def forward(self, z):
            return self.actor(z)

    heads = {"ppo": ActorCritic, "a2c": ActorCritic, "maskable_ppo": ActorCritic, "dqn": QNet,
             "sac": SquashedActor, "td3": DeterministicActor}
    if name not in heads:
        raise ConfigError(f"agent={name}: export is not supported; supported agents: "
                          f"{', '.join(heads)}")

    config = run.config
    rms = sb3.obs_rms

    class PolicyGraph(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = heads[name]()
            self.normalize = rms is not None
            if self.normalize:
                mean, var = np.asarray(rms.mean, np.float64), np.asarray(rms.var, np.float64)
                self.register_buffer("mean", torch.tensor(mean))
                # np.sqrt is correctly rounded, so precomputing it changes nothing
                self.register_buffer("std", torch.tensor(np.sqrt(var + sb3.epsilon)))
                self.clip_obs = float(sb3.clip_obs)
            self.discrete, self.masked = discrete, bool(sb3.masked)
            self.squashed = (not discrete) and bool(policy.squash_output)
            if not discrete:
                space = model.action_space
                self.register_buffer("low", torch.tensor(space.low, dtype=torch.float32))
                self.register_buffer("high", torch.tensor(space.high, dtype=torch.float32))
            quantities = torch.arange(config.q_max + 1, dtype=torch.float64)
            self.register_buffer("orders_range", quantities)
            self.up_to = sb3.parameterisation == "order_up_to"
            self.level_max, self.q_max = float(sb3.level_max), float(config.q_max)
            self.level_min = float(sb3.level_min)
            self.continuous_env = config.action_type == "continuous"

        def forward(self, obs):
            x = obs.to(torch.float64)
            if self.normalize:
                z = torch.clamp((x - self.mean) / self.std, -self.clip_obs, self.clip_obs)
                z = z.to(torch.float32)
            else:
                z = obs.to(torch.float32)
            out = self.head(z)
            position = torch.round(x.sum(dim=1))
            if self.discrete:
                if self.masked:  # SB3Policy.action_masks
                    room = torch.clamp(self.level_max - position, min=0.0)
                    allowed = self.orders_range[None, :] <= room[:, None]
                    out = out.masked_fill(~allowed, HUGE_NEG)
                if name != "dqn":  # Categorical.mode(): argmax of softmax(normalised logits)
                    out = torch.softmax(out - torch.logsumexp(out, dim=1, keepdim=True), dim=1)
                action = torch.argmax(out, dim=1)
                value = action.to(torch.float64)
            else:
                if self.squashed:  # BasePolicy.unscale_action, in float32 like SB3
                    action = self.low + (0.5 * (out + 1.0) * (self.high - self.low))
                else:  # np.clip(actions, low, high)
                    action = torch.minimum(torch.maximum(out, self.low), self.high)
                value = torch.clamp(action[:, 0].to(torch.float64), -1.0, 1.0)
            scale = self.level_max - self.level_min if self.up_to else self.q_max
            if self.continuous_env:  # levels_from_action / order_from_action
                value = torch.round((value + 1.0) * 0.5 * scale)
            if self.up_to:  # levels_from_action adds level_min; then order_up_to
                value = value + self.level_min
                order = torch.clamp(value - position, 0.0, self.q_max)
            else:
                order = value
            return action, order.to(torch.int64)

    graph = PolicyGraph()
    graph.eval()
    return graph


def write_file(graph, fmt: str, path: Path, obs_dim: int, opset: int, embedded: dict) -> None:
    """Write ``graph`` as ONNX (``dynamo=False``) or traced TorchScript, essentials embedded."""
    import warnings

    import torch

    example = torch.zeros((4, obs_dim), dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        if fmt == "onnx":
            import onnx

            axes = {n: {0: "batch"} for n in INPUT_NAMES + OUTPUT_NAMES}
            torch.onnx.export(graph, (example,), str(path), dynamo=False, opset_version=opset,
                              input_names=INPUT_NAMES, output_names=OUTPUT_NAMES, dynamic_axes=axes)
            proto = onnx.load(str(path))
            entry = proto.metadata_props.add()
            entry.key, entry.value = METADATA_KEY, json.dumps(embedded)
            proto.doc_string = "FulfillGym policy: raw LostSales-v0 obs -> (action, order)"
            onnx.checker.check_model(proto)
            onnx.save(proto, str(path))
        else:
            with torch.no_grad():
                traced = torch.jit.trace(graph, (example,), check_trace=False)
            torch.jit.save(traced, str(path), _extra_files={METADATA_KEY: json.dumps(embedded)})


# -- parity --------------------------------------------------------------------------------
def parity(run: Run, exported, pcfg) -> dict:
    """Compare ``exported`` (an ``agents.rl.exported`` policy) with the SB3 policy on >= 1000
    observations of SB3's own rollouts; raise :class:`ParityError` on a mismatch."""
    from agents.lost_sales.rollout import EVAL_SEED_BASE, Scenario, rollout

    config, sb3 = run.config, run.policy
    records: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def sb3_orders(obs: np.ndarray) -> np.ndarray:
        raw = np.asarray(obs, dtype=np.float64)
        action, _ = sb3.model_action(raw)
        q = sb3.orders(raw, action)
        records.append((np.asarray(obs, np.float32).copy(), np.asarray(action), q))
        return q

    seeds = EVAL_SEED_BASE + np.arange(pcfg.reps)
    scenario = Scenario.from_seeds(config, seeds, pcfg.periods)
    reference = rollout(config, None, scenario, 0, order_fn=sb3_orders)
    obs = np.concatenate([r[0] for r in records])
    ref_action = np.concatenate([r[1] for r in records])
    ref_order = np.concatenate([r[2] for r in records])
    action, order = exported.run(obs)
    action, order = np.asarray(action), np.asarray(order)
    ref_action = ref_action.reshape(action.shape)
    continuous = np.issubdtype(action.dtype, np.floating)
    diff = np.abs(action.astype(np.float64) - ref_action.astype(np.float64))
    diff = diff.reshape(len(obs), -1).max(axis=1)
    bad_action = diff > pcfg.atol if continuous else diff > 0
    order_diff = np.abs(order.astype(np.int64) - ref_order)
    near = np.zeros(len(obs), dtype=bool)
    if continuous:
        up_to = run.policy.parameterisation == "order_up_to"
        scale = run.policy.level_max - run.policy.level_min if up_to else config.q_max
        for a in (ref_action, action):
            flat = np.clip(a.reshape(len(obs), -1)[:, 0].astype(np.float64), -1.0, 1.0)
            pre = (flat + 1.0) * 0.5 * scale  # the value rounded by levels/order_from_action
            near |= np.abs(pre - np.floor(pre) - 0.5) < pcfg.boundary_tol
    bad_order = (order_diff > 0) & ~near
    exported_rollout = rollout(config, exported, scenario, 0)
    stats = {
        "observations": len(obs),
        "rollouts": f"{pcfg.reps} x {pcfg.periods} periods of the SB3 policy on seeds "
                    f"EVAL_SEED_BASE + 0..{pcfg.reps - 1} (EVAL_SEED_BASE = {EVAL_SEED_BASE})",
        "runtime": ("onnxruntime CPUExecutionProvider" if exported.format == "onnx"
                    else "torch.jit.load"),
        "action_mismatches": int(bad_action.sum()),
        "max_abs_action_diff": float(diff.max()),
        "action_tolerance": float(pcfg.atol) if continuous else 0,
        "order_mismatches": int((order_diff > 0).sum()),
        "order_mismatches_outside_boundary": int(bad_order.sum()),
        "max_abs_order_diff": int(order_diff.max()),
        "boundary_tolerance": float(pcfg.boundary_tol) if continuous else None,
        "boundary_cases": int(near.sum()),
        "boundary_order_mismatches": int(((order_diff > 0) & near).sum()),
        "sb3_mean_cost": float(reference.mean_cost.mean()),
        "exported_mean_cost": float(exported_rollout.mean_cost.mean()),
        "per_rep_costs_identical": bool(np.array_equal(reference.cost, exported_rollout.cost)),
    }
    kpi_bad = not stats["per_rep_costs_identical"] and stats["boundary_cases"] == 0
    if bad_action.any() or bad_order.any() or kpi_bad:
        s, kind = stats, "continuous" if continuous else "discrete"
        raise ParityError(
            f"parity: the exported policy differs from SB3 on {int((bad_action | bad_order).sum())}"
            f" of {len(obs)} observations ({kind} actions: {s['action_mismatches']} mismatches, "
            f"worst |diff| {s['max_abs_action_diff']:.3g}; orders: "
            f"{s['order_mismatches_outside_boundary']} mismatches away from .5 boundaries, worst "
            f"|diff| {s['max_abs_order_diff']}; rollout cost {s['exported_mean_cost']:.6g} vs SB3 "
            f"{s['sb3_mean_cost']:.6g}); nothing written")
    return stats


# -- the card ------------------------------------------------------------------------------
def space_json(space) -> dict:
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start), "dtype": "int64"}
    return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
            "low": space.low.tolist(), "high": space.high.tolist()}


def observation_meaning(config) -> list[str]:
    """What each observation index is: on-hand stock, then the pipeline oldest first."""
    lead = config.lead_time
    pipeline = [f"pipeline[{i}]: the order placed {lead - 1 - i} period(s) ago"
                + (" (oldest, arrives next)" if i == 0 else "") for i in range(max(lead - 1, 0))]
    on_hand = "on-hand stock at the start of the period" + (
        " (net inventory: < 0 is the backlog)" if config.backorders else "")
    return [on_hand] + pipeline


def read_csv_rows(path: Path) -> list[dict]:
    import csv

    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _number(text: str):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    integral = value.is_integer() and "." not in text and "e" not in text.lower()
    return int(value) if integral else value


def essentials(run: Run) -> dict:
    """What an exported policy needs to act: also embedded in the file itself."""
    return {"agent": run.agent, "env_id": str(run.cfg.env.id), "env_config": env_config(run.config),
            "parameterisation": run.policy.parameterisation, "level_max": int(run.policy.level_max),
            "level_min": int(run.policy.level_min),
            "input_names": INPUT_NAMES, "output_names": OUTPUT_NAMES}


def make_card(run: Run, cfg: DictConfig, path: Path, stats: dict) -> dict:
    import gymnasium as gym

    import envs  # noqa: F401  (registers the Gymnasium ids)
    from experiments.common import env_kwargs

    env = gym.make(run.cfg.env.id, **env_kwargs(run.cfg.env))
    config, sb3, meta = run.config, run.policy, run.checkpoint.meta
    results = [r for r in read_csv_rows(run.path / "results.csv") if r.get("agent") == run.agent]
    evals = read_csv_rows(run.path / "eval.csv")
    card = {
        "name": f"{run.agent} policy for {run.cfg.env.id}",
        **essentials(run),
        "format": cfg.format,
        "file": path.name,
        "sha256": sha256(path),
        "opset": int(cfg.opset) if cfg.format == "onnx" else None,
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "env": OmegaConf.to_container(run.cfg.env, resolve=True),
        "observation_space": {**space_json(env.observation_space),
                              "meaning": observation_meaning(config)},
        "action_space": space_json(env.action_space),
        "model_action_space": space_json(run.model.action_space),
        "inputs": {"obs": {"dtype": "float32", "shape": ["batch", config.obs_dim],
                           "meaning": "raw env observations (not normalised)"}},
        "outputs": {
            "action": {**space_json(run.model.action_space),
                       "meaning": "the model's deterministic action in its training action space ("
                                  + ("order-up-to level" if sb3.parameterisation == "order_up_to"
                                     else "order quantity") + ")"},
            "order": {"dtype": "int64", "shape": ["batch"], "low": 0, "high": config.q_max,
                      "meaning": "order quantity to place this period"},
        },
        "normalization": None if sb3.obs_rms is None else {
            "mean": np.asarray(sb3.obs_rms.mean).tolist(),
            "var": np.asarray(sb3.obs_rms.var).tolist(),
            "epsilon": float(sb3.epsilon), "clip_obs": float(sb3.clip_obs), "baked_in": True},
        "action_mask": ("baked in (OrderMask: orders above level_max - inventory position are "
                        "masked)") if sb3.masked else None,
        "algorithm": type(run.model).__name__,
        "training": {"run_dir": str(run.path.resolve()),
                     "checkpoint": str(run.checkpoint.path.resolve()),
                     "timesteps": int(meta.get("timesteps", run.model.num_timesteps)),
                     "seed": run.cfg.seed, "wall_seconds": meta.get("wall_seconds")},
        "kpis": {
            "results_csv": results[0] if results else None,
            "results_csv_note": f"the run's final benchmark of its {run.cfg.benchmark.model} model",
            "last_eval_csv": evals[-1] if evals else None,
        },
        "parity": stats,
        "how_to_act": [
            "feed raw env observations as float32 (batch, obs_dim) to input 'obs'",
            "place output 'order' (int64): for action_type=discrete step the env with int(order);"
            " for continuous with np.array([2 * order / q_max - 1], np.float32)",
            "in this project: agents.exported.OnnxPolicy(path) (or TorchScriptPolicy) is a policy"
            " whose predict(obs) returns base-env actions",
        ],
    }
    env.close()
    return card


# -- entry point ---------------------------------------------------------------------------
def export(cfg: DictConfig) -> tuple[Path, dict]:
    """Export, check parity and write the card; returns ``(file, card)``."""
    validate(cfg)
    run = load_run(cfg)
    fmt = str(cfg.format)
    out = Path(str(cfg.output)) if cfg.output else run.path / "export" / f"policy{SUFFIX[fmt]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    try:
        write_file(build_graph(run), fmt, tmp, run.config.obs_dim, int(cfg.opset), essentials(run))
        exported = load_exported(tmp, card=essentials(run), name=run.agent, verify=False)
        stats = parity(run, exported, cfg.parity)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    card = make_card(run, cfg, out, stats)
    target = card_path(out)
    tmp_card = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    tmp_card.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp_card, target)
    return out, card


@hydra.main(version_base="1.3", config_path="../configs", config_name="export.yaml")
@clean_errors
def main(cfg: DictConfig) -> None:
    try:
        out, card = export(cfg)
    except ParityError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    p = card["parity"]
    print(f"exported {card['agent']} ({card['training']['timesteps']:,} timesteps) to {out}; "
          f"parity on {p['observations']} observations: {p['action_mismatches']} action and "
          f"{p['order_mismatches']} order mismatches ({p['boundary_cases']} near .5 boundaries), "
          f"max |action diff| {p['max_abs_action_diff']:.2g}, rollout cost "
          f"{p['exported_mean_cost']:.4f} (SB3 {p['sb3_mean_cost']:.4f}); card {card_path(out)}")


if __name__ == "__main__":
    main()
