"""The policy card written beside an exported file (``<file>.json``): what it is, what it
was trained on, how it scored, how to act with it, and its parity with SB3."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from omegaconf import OmegaConf

from agents.rl.export_checks import space_json
from agents.rl.exported import sha256


def read_csv_rows(path: Path) -> list[dict]:
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


def make_card(run, checkpoint, policy, cfg, path: Path, stats: dict, essentials: dict,
              written: Path | None = None) -> dict:
    """The card of the file that will be at ``path`` (``written``: where it is now, hashed)."""
    interface, model = policy.interface, policy.policy
    env = run.task.make_env()
    results = [r for r in read_csv_rows(run.path / "results.csv") if str(r.get("agent")) == run.agent]
    evals = read_csv_rows(run.path / "eval.csv")
    meta = checkpoint.meta
    rows = "one row per agent" if run.shared else "one row per observation"
    card = {
        "name": f"{run.agent}{' (shared)' if run.shared else ''} policy for {run.task.env_id}",
        **essentials,
        "format": str(cfg.format),
        "file": path.name,
        "sha256": sha256(written or path),
        "opset": int(cfg.opset) if cfg.format == "onnx" else None,
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "env": OmegaConf.to_container(run.cfg.env, resolve=True),
        "observation_space": space_json(env.observation_space),
        "action_space": space_json(env.action_space),
        "inputs": {"obs": {"dtype": "float32", "shape": ["batch", int(model.observation_space.shape[0])],
                           "rows": rows, "meaning": getattr(interface, "input_meaning", lambda: None)(),
                           "note": "raw values (not normalised); finite numbers only: NaN or inf give undefined "
                                   "outputs (agents.rl.exported refuses them)"}},
        "outputs": {"action": {**space_json(model.action_space),
                               "meaning": "the model's deterministic action in its training action space"},
                    **{name: {"meaning": text} for name, text in interface.extra_outputs.items()}},
        "normalization": None if policy.normalizer is None else {**policy.normalizer.to_dict(), "baked_in": True},
        "action_mask": "baked in (a function of the observation)" if getattr(interface, "masked", False) else None,
        "algorithm": type(model).__name__,
        "training": {"run_dir": str(run.path.resolve()), "checkpoint": str(checkpoint.path.resolve()),
                     "timesteps": int(meta.get("timesteps", -1)), "seed": run.cfg.get("seed"),
                     "wall_seconds": meta.get("wall_seconds")},
        "kpis": {"results_csv": results[0] if results else None,
                 "results_csv_note": f"the run's final benchmark of its {run.cfg.benchmark.model} model",
                 "last_eval_csv": evals[-1] if evals else None},
        "parity": stats,
        "how_to_act": [
            f"feed raw model rows ({rows}) as float32 (batch, d) to input 'obs'",
            "output 'action' is the model's action; extra outputs (if any) are listed under outputs",
            f"in this project: agents.rl.exported.OnnxPolicy(path) (or TorchScriptPolicy) acts on {run.task.env_id} "
            "observations through the task's model interface and returns env actions",
        ],
    }
    env.close()
    return card
