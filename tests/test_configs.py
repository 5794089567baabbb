"""Every file under ``configs/`` composes (as lightning-hydra-template's ``test_configs.py``
does), its task builds, and the env groups hold exactly the dataclass defaults (the
dataclasses are the source of truth; a YAML file only sets values)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import experiments.support.common  # noqa: F401  (registers the fg.* resolvers)
from agents.task import build_task, task_class
from experiments.support.common import eval_settings

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def composed(config_name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides)
    return cfg


def plain(value):
    """Tuples as lists, recursively, to compare dataclass values with YAML."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def declared_defaults(cls) -> dict:
    """The declared defaults of a config dataclass (nested dataclasses expanded)."""
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        value = f.default_factory() if f.default is dataclasses.MISSING else f.default
        out[f.name] = declared_defaults(type(value)) if dataclasses.is_dataclass(value) else plain(value)
    return out


CASES = ([("train", [f"env={e}"]) for e in options("env")] + [("train", [f"agent={a}"]) for a in options("agent")]
         + [("train", [f"logger={g}"]) for g in options("logger")]
         + [("train", [f"experiment={x}"]) for x in options("experiment")]
         + [("train", [f"hparams_search={h}"]) for h in options("hparams_search")]
         + [("benchmark", [f"env={e}"]) for e in options("env")] + [("export", ["run_dir=x"])])


@pytest.mark.parametrize(("config_name", "overrides"), CASES, ids=[f"{c}:{' '.join(o)}" for c, o in CASES])
def test_every_config_composes_and_its_task_builds(config_name, overrides):
    cfg = composed(config_name, overrides)
    if config_name == "export":
        assert cfg.format in ("onnx", "torchscript")
        return
    task = build_task(OmegaConf.to_container(cfg.env, resolve=True))
    eval_settings(cfg.eval, "eval")
    if config_name == "train":
        assert cfg.agent.name and cfg.validation.freq >= 1
        assert cfg.validation.reps == task.evaluation.validation_reps


@pytest.mark.parametrize("launcher", options("hydra/launcher"))
def test_every_launcher_config_composes(launcher):
    if launcher == "cluster_ray":
        pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="the ray extra is not installed")
    cfg = composed("train", [f"hydra/launcher={launcher}"])
    assert cfg.seed == 0


def derived(name: str) -> bool:
    """An env config built on another one (``defaults: [<base>, _self_]``), e.g. backorders."""
    return "defaults" in OmegaConf.load(CONFIGS / "env" / f"{name}.yaml")


@pytest.mark.parametrize("name", [p.stem for p in (CONFIGS / "env").glob("*.yaml") if not derived(p.stem)])
def test_env_groups_hold_exactly_the_dataclass_defaults(name):
    """Every key of the env group is a field of the task's config (or its training /
    evaluation block) with the dataclass's default value, and none is missing."""
    raw = OmegaConf.to_container(OmegaConf.load(CONFIGS / "env" / f"{name}.yaml"))
    cls = task_class(name)
    env_keys = {k: v for k, v in raw.items() if k not in ("_target_", "training", "evaluation", "reference")}
    assert plain(env_keys) == declared_defaults(type(cls().config))
    assert plain(raw["training"]) == declared_defaults(cls.training_options)
    assert raw["evaluation"] == dataclasses.asdict(cls.evaluation_defaults)
    assert raw["_target_"] == f"{cls.__module__}.{cls.__name__}"


@pytest.mark.parametrize("name", [p.stem for p in (CONFIGS / "env").glob("*.yaml") if derived(p.stem)])
def test_derived_env_configs_are_their_base_task(name):
    """A derived env config (network_serial, network_orgym, backorders) builds its base's task
    with every key it sets applied."""
    base = OmegaConf.load(CONFIGS / "env" / f"{name}.yaml")["defaults"][0]
    cfg = composed("benchmark", [f"env={name}"])
    task = build_task(OmegaConf.to_container(cfg.env, resolve=True))
    assert type(task) is task_class(base)
    own = OmegaConf.to_container(OmegaConf.load(CONFIGS / "env" / f"{name}.yaml"))
    for key, value in own.items():
        if key in ("defaults", "training", "evaluation", "nodes"):
            continue
        assert plain(getattr(task.config, key)) == plain(value), key
    if "nodes" in own:
        assert [n.name for n in task.config.nodes] == [n["name"] for n in own["nodes"]]


def test_backorders_is_lost_sales_with_backorders():
    cfg = composed("benchmark", ["env=backorders"])
    assert build_task(OmegaConf.to_container(cfg.env, resolve=True)).config.backorders is True
