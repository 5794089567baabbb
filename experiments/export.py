"""Export any task's trained policy to ONNX or TorchScript, check it against SB3, write a card.

    python -m experiments.export run_dir=outputs/train/<run>                  # ONNX, newest checkpoint
    python -m experiments.export run_dir=outputs/train/<run> checkpoint=best  # best on validation
    python -m experiments.export run_dir=... format=torchscript output=policy.pt
    python -m experiments.export run_dir=outputs/train/<run> overwrite=true   # replace export/policy.onnx

What is exported: the *deterministic* policy of a checkpoint of ``experiments.train`` as one
graph (``agents.rl.graph``) from raw model rows to actions, so that acting needs nothing but
the file (and onnxruntime or torch): input ``obs``, float32 ``(batch, d)`` with a dynamic
batch axis (the env observation; for a shared per-agent policy, one row per agent, so one
graph serves any number of agents); the run's observation normalisation, any action mask
and the task's action post-processing baked in; outputs ``action`` (the model's action in
its training action space) and the task's extra outputs (lost sales: ``order``). ONNX files
use opset ``opset`` (17..20), exported with the TorchScript-based exporter (``dynamo=False``);
TorchScript files are traced modules. The run's files are loaded without executing anything
from them (``agents.rl.loading``).

Parity before success: the SB3 policy is rolled out with the task's own rollout on the
evaluation seeds (``parity.reps`` x ``parity.periods``, >= 1000 observations), the exported
file is run on every model row it saw with onnxruntime (CPUExecutionProvider) or
``torch.jit.load``, and: discrete actions and extra outputs must be identical; continuous
actions must agree within ``parity.atol`` and extra outputs may differ only where the value
before rounding is within ``parity.boundary_tol`` of a rounding boundary (counted in the
card). The exported policy is also rolled out on the same seeds and its per-replication
costs compared with SB3's. On a mismatch nothing is written and the exit status is 1; bad
arguments exit 2 with one line on stderr. Refused too: a ``checkpoint`` outside ``run_dir``
or whose ``meta.json`` names another agent, task, seed or ``shared`` (the card would credit
the run with another run's weights), and an ``output`` that exists, or whose card exists,
unless ``overwrite=true`` (re-exporting a run included). The file and its card are written
under temporary names and renamed into place only after parity: a failure leaves the
previous export untouched and no half-written file.

Outputs (default ``<run_dir>/export/policy.onnx`` or ``policy.pt``): the file and its policy
card ``<file>.json`` (task, env id and config, spaces, the meaning of the input, agent,
training timesteps, the run's KPIs, input / output names, opset, SHA-256, parity statistics,
how to act with it); the essentials are also embedded in the file (ONNX ``metadata_props`` /
TorchScript extra file ``fulfillgym``). ``agents.rl.exported.OnnxPolicy(path)`` acts with it
on the task's env, and ``python -m experiments.benchmark env=<task> onnx=[path]`` benchmarks it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from agents.rl import checkpoints
from agents.rl.card import make_card
from agents.rl.export_checks import space_json
from agents.rl.exported import METADATA_KEY, card_path, load_exported
from agents.rl.loading import load_policy, open_run
from agents.rl.parity import ParityError, parity
from envs.core.config import ConfigError, check_bool, check_choice, check_float, check_int
from experiments.support.common import checked_groups, clean_errors

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
INPUT_NAMES = ["obs"]
MIN_PARITY_OBS = 1000


def validate(cfg: DictConfig) -> None:
    check_choice("format", cfg.format, FORMATS)
    check_int("opset", cfg.opset, 17, 20)  # 20: the TorchScript-based exporter's newest
    check_int("parity.reps", cfg.parity.reps, 1, 100_000)
    check_int("parity.periods", cfg.parity.periods, 1, 1_000_000)
    if cfg.parity.reps * cfg.parity.periods < MIN_PARITY_OBS:
        raise ConfigError(f"parity.periods: parity.reps * parity.periods must be >= {MIN_PARITY_OBS} observations, "
                          f"got {cfg.parity.reps} * {cfg.parity.periods}")
    check_float("parity.atol", cfg.parity.atol, 0.0)
    check_float("parity.boundary_tol", cfg.parity.boundary_tol, 0.0, 0.5)
    check_bool("overwrite", cfg.overwrite)
    if not cfg.run_dir:
        raise ConfigError("run_dir: required, a run directory of experiments.train (e.g. run_dir=outputs/train/<run>)")


def essentials(run, policy) -> dict:
    """What an exported policy needs to act: also embedded in the file itself."""
    return {"task": run.task.name, "env_id": run.task.env_id, "env_config": run.task.env_kwargs(),
            "shared": run.shared, "agent": run.agent, "essentials": policy.interface.essentials(),
            "input_names": INPUT_NAMES, "output_names": ["action", *policy.interface.extra_outputs],
            "model_observation_space": space_json(policy.policy.observation_space),
            "model_action_space": space_json(policy.policy.action_space)}


def check_checkpoint(run, checkpoint) -> None:
    """The checkpoint must be one of ``run``'s own (inside its directory, and its ``meta.json``
    saying the run's agent, task, seed and shared), so a card never credits one run with another's weights."""
    inside = checkpoint.path.resolve().is_relative_to(run.path.resolve())
    if not inside:
        raise ConfigError(f"checkpoint: {checkpoint.path} is not inside run_dir {run.path}; expected best, null (the "
                          "newest) or a checkpoint directory of that run (export the other run with its own run_dir)")
    mine = {"agent": run.agent, "task": run.task.name, "seed": run.cfg.get("seed"), "shared": run.shared}
    differ = [f"{k}={checkpoint.meta[k]!r} (run: {v!r})" for k, v in mine.items()
              if k in checkpoint.meta and checkpoint.meta[k] != v]
    if differ:
        raise ConfigError(f"checkpoint: {checkpoint.path}/meta.json has {', '.join(differ)}; it was not saved by "
                          f"the run in {run.path}")


def output_path(cfg: DictConfig, run) -> Path:
    """Where the file goes; an existing file (or its card) is only replaced with ``overwrite=true``."""
    fmt = str(cfg.format)
    out = Path(str(cfg.output)) if cfg.output else run.path / "export" / f"policy{SUFFIX[fmt]}"
    if out.suffix != SUFFIX[fmt]:
        raise ConfigError(f"output: expected a file name ending in {SUFFIX[fmt]} for format={fmt}, got {str(out)!r}")
    if out.is_dir() or card_path(out).is_dir():
        raise ConfigError(f"output: {out} is a directory; expected a file path ending in {SUFFIX[fmt]}")
    refuse_overwrite(cfg, out)
    return out


def refuse_overwrite(cfg: DictConfig, out: Path) -> None:
    existing = [p for p in (out, card_path(out)) if p.exists()]
    if existing and not cfg.overwrite:
        raise ConfigError(f"output: {existing[0]} exists; pass overwrite=true to replace "
                          f"{' and '.join(p.name for p in (out, card_path(out)))}, or choose another output=")


def write_file(graph, fmt: str, path: Path, width: int, opset: int, embedded: dict) -> None:
    """Write ``graph`` as ONNX (``dynamo=False``) or traced TorchScript, essentials embedded."""
    import warnings

    import torch

    example = torch.zeros((4, width), dtype=torch.float32)
    names = embedded["output_names"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        if fmt == "onnx":
            import onnx

            axes = {n: {0: "batch"} for n in INPUT_NAMES + names}
            torch.onnx.export(graph, (example,), str(path), dynamo=False, opset_version=opset,
                              input_names=INPUT_NAMES, output_names=names, dynamic_axes=axes)
            proto = onnx.load(str(path))
            entry = proto.metadata_props.add()
            entry.key, entry.value = METADATA_KEY, json.dumps(embedded)
            proto.doc_string = f"FulfillGym policy for {embedded['env_id']}: raw model rows -> {', '.join(names)}"
            onnx.checker.check_model(proto)
            onnx.save(proto, str(path))
        else:
            with torch.no_grad():
                traced = torch.jit.trace(graph, (example,), check_trace=False)
            torch.jit.save(traced, str(path), _extra_files={METADATA_KEY: json.dumps(embedded)})


def export(cfg: DictConfig) -> tuple[Path, dict]:
    """Export, check parity and write the card; returns ``(file, card)``."""
    from agents.rl.graph import build_graph

    validate(cfg)
    run = open_run(cfg.run_dir)
    if run.algorithm.recurrent:
        raise ConfigError(f"agent={run.agent}: export is not supported for recurrent policies (the LSTM state "
                          "would be an input and an output)")
    checkpoint = checkpoints.find(run.path, cfg.checkpoint, field="checkpoint" if cfg.checkpoint else "run_dir")
    check_checkpoint(run, checkpoint)
    out = output_path(cfg, run)
    policy = load_policy(run, checkpoint)
    fmt = str(cfg.format)
    out.parent.mkdir(parents=True, exist_ok=True)
    # both files are written under temporary names and renamed into place only after parity:
    # a failure or a crash never leaves a half-written file, nor a file beside an older card
    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    tmp_card = out.with_name(f".tmp-{os.getpid()}-{card_path(out).name}")
    embedded = essentials(run, policy)
    try:
        graph = build_graph(policy.policy, run.agent, policy.interface, policy.normalizer)
        write_file(graph, fmt, tmp, int(policy.policy.observation_space.shape[0]), int(cfg.opset), embedded)
        exported = load_exported(tmp, card=embedded, name=run.agent, verify=False, task=run.task)
        stats = parity(run.task, policy, exported, cfg.parity)
        card = make_card(run, checkpoint, policy, cfg, out, stats, embedded, written=tmp)
        tmp_card.write_text(json.dumps(card, indent=2) + "\n")
        refuse_overwrite(cfg, out)  # again: another export may have written it meanwhile
        os.replace(tmp, out)
        os.replace(tmp_card, card_path(out))
    finally:
        tmp.unlink(missing_ok=True)
        tmp_card.unlink(missing_ok=True)
    return out, card


@checked_groups
@hydra.main(version_base="1.3", config_path="../configs", config_name="export.yaml")
@clean_errors
def main(cfg: DictConfig) -> None:
    try:
        out, card = export(cfg)
    except ParityError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    p = card["parity"]
    print(f"exported {card['agent']} ({card['training']['timesteps']:,} timesteps) to {out}; parity on "
          f"{p['observations']} observations: {p['action_mismatches']} action and {p['output_mismatches']} output "
          f"mismatches ({p['boundary_cases']} near rounding boundaries), max |action diff| "
          f"{p['max_abs_action_diff']:.2g}, rollout cost {p['exported_mean_cost']:.4f} (SB3 {p['sb3_mean_cost']:.4f}); "
          f"card {card_path(out)}")


if __name__ == "__main__":
    main()

