"""Parity of an exported policy file with the SB3 policy it was exported from.

The SB3 policy is rolled out with the task's own rollout on the evaluation seeds
``EVAL_SEED_BASE + r`` (``reps`` x ``periods``, no warm-up; more replications while that gave
fewer than ``reps`` x ``periods`` observations, e.g. short dispatch days); every raw observation batch it
met and its model actions are recorded. The exported file is run on the same model rows:
discrete actions and the task's extra outputs must be identical; continuous actions must
agree within ``atol``, and extra outputs may differ only where the model's action sits within
``boundary_tol`` of a rounding boundary (``interface.near_boundary``). The exported policy is
then rolled out on the same seeds: its per-replication costs must equal SB3's unless some
action sat on such a boundary.
"""

from __future__ import annotations

import numpy as np

from agents.rl.adapter import InterfacePolicy
from agents.seeds import EVAL_SEED_BASE


class ParityError(RuntimeError):
    """The exported file does not reproduce the SB3 policy (the message is one line)."""


class _Recorder(InterfacePolicy):
    """The SB3 policy, recording every observation batch and model action it produces."""

    def __init__(self, sb3):
        self.sb3, self.name, self.env_overrides, self.interface = sb3, sb3.name, sb3.env_overrides, sb3.interface
        self.records: list[tuple[np.ndarray, np.ndarray]] = []
        self.rows = 0  # model rows recorded (one model action each)

    def model_action(self, obs: np.ndarray, state=None, episode_start=None, deterministic: bool = True):
        action, state = self.sb3.model_action(obs, state, episode_start, deterministic)
        self.records.append((obs.copy(), np.asarray(action)))
        self.rows += len(np.atleast_1d(action))
        return action, state


def parity(task, sb3, exported, settings) -> dict:
    """Compare ``exported`` with ``sb3`` (module docstring); raise :class:`ParityError`."""
    reps, periods = int(settings.reps), int(settings.periods)
    recorder = _Recorder(sb3)
    interface = sb3.interface
    seeds, chunks = np.zeros(0, dtype=np.int64), []
    # a task with episodes of its own length (a dispatch day) may give fewer than reps x
    # periods observations: more replications are rolled out until it has them (or 100x)
    while not chunks or (recorder.rows < reps * periods and len(seeds) < 100 * reps):
        more = EVAL_SEED_BASE + np.arange(len(seeds), len(seeds) + reps)
        chunks.append(task.rollout(recorder, more, periods, 0))
        seeds = np.concatenate([seeds, more])
    reference = {k: np.concatenate([np.asarray(c[k]).reshape(-1) for c in chunks]) for k in chunks[0]}
    obs = np.concatenate([r[0] for r in recorder.records])
    ref_action = np.concatenate([r[1].reshape(len(interface.model_obs(r[0])), -1) for r in recorder.records])
    rows = np.ascontiguousarray(interface.model_obs(obs), dtype=np.float32)
    outputs = exported.run(rows)
    action = np.asarray(outputs[0]).reshape(len(rows), -1)
    continuous = np.issubdtype(action.dtype, np.floating)
    diff = np.abs(action.astype(np.float64) - ref_action.astype(np.float64)).max(axis=1)
    bad_action = diff > settings.atol if continuous else diff > 0
    near = np.zeros(len(rows), dtype=bool)
    if continuous:
        near = interface.near_boundary(ref_action, settings.boundary_tol) | interface.near_boundary(
            action, settings.boundary_tol)
    mismatched, near_obs = _extra_mismatches(interface, obs, ref_action, outputs[1:], near)
    rollout = task.rollout(exported, seeds, periods, 0)
    identical = bool(np.array_equal(reference["cost"], rollout["cost"]))
    stats = {
        "observations": len(rows),
        "rollouts": f"{len(seeds)} x {settings.periods} periods of the SB3 policy on seeds EVAL_SEED_BASE + "
                    f"0..{len(seeds) - 1} (EVAL_SEED_BASE = {EVAL_SEED_BASE})",
        "runtime": "onnxruntime CPUExecutionProvider" if exported.format == "onnx" else "torch.jit.load",
        "action_mismatches": int(bad_action.sum()),
        "max_abs_action_diff": float(diff.max()) if len(diff) else 0.0,
        "action_tolerance": float(settings.atol) if continuous else 0,
        "output_mismatches": int(mismatched.sum()),
        "output_mismatches_outside_boundary": int((mismatched & ~near_obs).sum()),
        "boundary_tolerance": float(settings.boundary_tol) if continuous else None,
        "boundary_cases": int(near.sum()),
        "sb3_mean_cost": float(reference["cost"].mean()),
        "exported_mean_cost": float(rollout["cost"].mean()),
        "per_rep_costs_identical": identical,
    }
    if bad_action.any() or (mismatched & ~near_obs).any() or (not identical and not near.any()):
        s = stats
        raise ParityError(
            f"parity: the exported policy differs from SB3 ({'continuous' if continuous else 'discrete'} actions: "
            f"{s['action_mismatches']} of {len(rows)} mismatches, worst |diff| {s['max_abs_action_diff']:.3g}; "
            f"extra outputs: {s['output_mismatches_outside_boundary']} mismatches away from rounding boundaries; "
            f"rollout cost {s['exported_mean_cost']:.6g} vs SB3 {s['sb3_mean_cost']:.6g}); nothing written")
    return stats


def _extra_mismatches(interface, obs, ref_action, outputs, near_rows):
    """Per observation: whether any extra output differs, and whether any of its rows is near
    a rounding boundary."""
    expected = interface.extra_values(obs, ref_action)
    mismatched = np.zeros(len(obs), dtype=bool)
    for value, (_, want) in zip(outputs, expected.items(), strict=True):
        got = np.asarray(value).reshape(len(obs), -1)
        mismatched |= (got != np.asarray(want).reshape(len(obs), -1)).any(axis=1)
    per_obs = near_rows.reshape(len(obs), -1).any(axis=1) if len(near_rows) else np.zeros(len(obs), dtype=bool)
    return mismatched, per_obs
