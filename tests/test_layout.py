"""The layout shows the architecture: three layers (experiments -> agents -> envs), no import
cycles (imports inside functions included), no module over 450 lines (tests and configs/
scripts included; ``agents/task.py`` at most 250: a task is mostly data), and ``envs`` usable
with its own dependencies alone (``pip install .``: no torch, no SB3, no Hydra)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agents", "experiments")
LAYERS = {"envs": set(), "agents": {"envs"}, "experiments": {"envs", "agents"}}
MAX_LINES = 450
MAX_TASK_LINES = 250  # agents/task.py: the slim Task (docs/adding_a_task.md)
BASE_DEPENDENCIES = {"numpy", "scipy", "pandas", "gymnasium", "pettingzoo", "pyvrp", "vrplib"}
# what `pip install .` must not need: the training, export and tracking stacks
HEAVY = ("torch", "stable_baselines3", "sb3_contrib", "hydra", "omegaconf", "onnx", "onnxruntime", "wandb",
         "tensorboard", "rich", "tqdm", "supersuit", "matplotlib", "optuna", "joblib")


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports (top level or inside functions), absolute names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def project_graph() -> dict[str, set[str]]:
    mods = modules()
    graph = {}
    for name, path in mods.items():
        graph[name] = {t for t in imports(path, name) if t in mods and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_even_through_imports_inside_functions():
    graph = project_graph()
    assert cycles(graph) == []
    # the check can fail: a two-module loop is found
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_layers_import_only_downwards():
    for name, targets in project_graph().items():
        layer = name.split(".")[0]
        bad = [t for t in targets if t.split(".")[0] not in LAYERS[layer] | {layer}]
        assert not bad, f"{name} ({layer}) imports {bad}"


def test_no_module_is_over_450_lines():
    paths = [*modules().values(), *sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "configs").rglob("*.py"))]
    long = {str(p.relative_to(ROOT)): n for p in paths if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_the_task_base_class_stays_slim():
    assert len((ROOT / "agents" / "task.py").read_text().splitlines()) <= MAX_TASK_LINES


def test_envs_imports_only_its_own_dependencies():
    """Every third-party module imported anywhere under envs/ is a base dependency (matplotlib
    only inside the rgb_array renderer, an optional extra)."""
    stdlib = set(sys.stdlib_module_names)
    for name, path in modules().items():
        if not name.startswith("envs"):
            continue
        third = {t.split(".")[0] for t in imports(path, name)} - stdlib - set(PACKAGES)
        allowed = BASE_DEPENDENCIES | ({"matplotlib"} if name == "envs.core.render" else set())
        assert third <= allowed, (name, third - allowed)


def test_pip_install_gives_the_environments_alone():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {d.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip() for d in project["dependencies"]}
    assert base == BASE_DEPENDENCIES
    extras = project["optional-dependencies"]
    assert {"train", "export", "all", "dev"} <= set(extras)
    assert any(d.startswith("torch") for d in extras["train"]) and any(d.startswith("onnxruntime") for d in extras["export"])
    assert not any(d.startswith("supersuit") for d in extras["train"] + extras["export"])


def test_envs_run_with_the_heavy_stacks_blocked():
    """In a fresh interpreter where importing torch, SB3, Hydra, ... fails: import every envs
    module, make and step every Gymnasium id and the PettingZoo env."""
    code = f"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {HEAVY!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import envs, gymnasium as gym, numpy as np
for info in pkgutil.walk_packages(envs.__path__, 'envs.'):
    importlib.import_module(info.name)
for env_id in [k for k in gym.registry if k.startswith('fulfillgym/')]:
    env = gym.make(env_id)
    env.reset(seed=0)
    masks = getattr(env.unwrapped, 'action_masks', None)
    if masks is not None and isinstance(env.action_space, gym.spaces.Discrete):
        env.step(env.action_space.sample(masks().astype(np.int8)))
    else:
        env.step(env.action_space.sample())
from envs import fulfillment_center_v0
par = fulfillment_center_v0.parallel_env(n_skus=4, episode_length=5)
obs, _ = par.reset(seed=0)
par.step({{a: par.action_space(a).sample() for a in par.agents}})
print('ok', len([k for k in gym.registry if k.startswith('fulfillgym/')]))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok 5")  # LostSales, FulfillmentCenter, SameDayDelivery, Slotting, Network
