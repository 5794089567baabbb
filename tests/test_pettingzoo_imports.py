"""The PettingZoo envs import one way, as PettingZoo's own families do: ``from envs import
<name>_v0``, each module giving ``parallel_env`` and ``env`` (AEC); ``import envs`` alone loads
no PettingZoo env."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from pettingzoo import AECEnv, ParallelEnv

import envs

ROOT = Path(__file__).resolve().parents[1]
# the smallest instance of each, to build the env quickly
SMALL = {
    "courier_dispatch_v0": {"n_vehicles": 2},
    "fulfillment_center_v0": {"n_skus": 3, "episode_length": 4},
    "network_v0": {"n_skus": 2},
    "slotting_v0": {"n_operators": 2},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_each_pettingzoo_env_imports_from_envs_and_builds_both_apis(name):
    module = importlib.import_module(f"envs.{name}")
    assert getattr(envs, name) is module
    assert isinstance(module.parallel_env(**SMALL[name]), ParallelEnv)
    assert isinstance(module.env(**SMALL[name]), AECEnv)


def test_the_four_are_every_pettingzoo_module_and_sit_at_the_top_of_envs():
    found = {p.stem for p in (ROOT / "envs").rglob("*_v[0-9]*.py")}
    assert found == set(SMALL) == set(envs.PETTINGZOO_ENVS)
    assert all((ROOT / "envs" / f"{name}.py").is_file() for name in SMALL)


def test_importing_envs_loads_no_pettingzoo_env():
    code = "import sys, envs; print(sorted(m for m in sys.modules if m.startswith('pettingzoo') or m.endswith('_v0')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_an_unknown_attribute_of_envs_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'lost_sales_v0'"):
        envs.lost_sales_v0  # noqa: B018
