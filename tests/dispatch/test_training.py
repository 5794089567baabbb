"""MaskablePPO with one policy for every courier (``shared=true agent=maskable_ppo``) through
the generic entry points: smoke training, export with the action mask inside the ONNX graph
(parity with SB3), and the benchmark of the exported file next to the trained run.

The three verbs run in this process (``tests.entry_points.run_in_process``: the same Hydra
``main`` on the same composed config); the dispatch pipeline through real interpreters is
``tests/test_tasks.py``'s."""

from __future__ import annotations

import csv
import json

from tests.entry_points import run_in_process


def test_maskable_ppo_couriers_train_export_and_benchmark(tmp_path, monkeypatch, capsys):
    def python(module: str, args: list[str]) -> None:
        run_in_process(module, args, tmp_path, monkeypatch, capsys).assert_ok()

    run = tmp_path / "run"
    python("experiments.train", ["env=dispatch", "smoke=true", "shared=true", "agent=maskable_ppo",
                                 f"hydra.run.dir={run}"])
    python("experiments.export", [f"run_dir={run}", "checkpoint=best"])
    card = json.loads((run / "export" / "policy.onnx.json").read_text())
    assert card["shared"] is True and card["agent"] == "maskable_ppo"
    assert card["parity"]["action_mismatches"] == 0 and card["parity"]["observations"] >= 1000
    bench = tmp_path / "bench"
    python("experiments.benchmark", ["env=dispatch", "smoke=true", "agents=[edf]", f"models=[{run}]",
                                     f"onnx=[{run / 'export' / 'policy.onnx'}]", f"hydra.run.dir={bench}"])
    with (bench / "results.csv").open() as fh:
        rows = {r["agent"]: r for r in csv.DictReader(fh)}
    trained = next(a for a in rows if ":" in a)
    exported = next(a for a in rows if a.endswith("_onnx"))
    assert rows[exported]["mean_cost"] == rows[trained]["mean_cost"]
    assert {"edf", trained} <= set(rows)
