"""Speed cases of the network task (``python -m experiments.speed --task network``).

* node-SKU-steps per second of the simulator alone (``NetworkSimulator.step``) on the default
  tree (supplier -> DC -> 3 MFCs) with 1,000 SKUs: 4,000 node-SKUs per period, orders from
  an echelon base stock computed on the simulator's arrays (vectorised);
* the same through ``fulfillgym/Network-v0`` (``gymnasium.make``, observation tensor built every
  step, ``level`` actions drawn at random);
* env steps per second of the OR-Gym-equivalent configuration (``env=network_orgym``:
  4 stages, one SKU, ``order`` actions drawn at random), to compare with OR-Gym's own
  ``InvManagement-v1`` (19,085 steps/s with sampled actions, 25,671 with pre-drawn ones,
  measured on this machine with or-gym 0.5.0: ``docs/network_orgym.md``);
* episode-steps per second of 1,000 copies of the OR-Gym configuration stepped side by side
  in one simulator (``NetworkSimulator(copies=1000)``: each copy its own episode with its own
  capacities, all sharing the demand draws; random orders), the batched path the tuner uses;
* agent-steps per second of ``network_v0`` (4 nodes x 1,000 SKUs, random actions).

Goals: at least 5M node-SKU-steps/s for 1 DC + 3 MFCs x 1,000 SKUs; the OR-Gym configuration
at least 20x OR-Gym's own step rate (the issue assumed about 10k steps/s; measured 19-26k).
"""

from __future__ import annotations

import numpy as np

from agents.speed_case import SpeedCase, timed

GOAL_NODE_SKU = 5e6
ORGYM_MEASURED = 19_085.0  # InvManagement-v1, sampled actions (docs/network_orgym.md)
GOAL_ORGYM_FACTOR = 20.0
SIM = "simulator, DC + 3 MFCs x 1,000 SKUs (echelon base stock)"
ENV = "Network-v0, DC + 3 MFCs x 1,000 SKUs (random level actions)"
ORGYM = "Network-v0, network_orgym (OR-Gym InvManagement-v1 equivalent)"
ORGYM_BATCH = "simulator, network_orgym x 1,000 episodes side by side (copies)"


def _orgym_kwargs() -> dict:
    from pathlib import Path

    from omegaconf import OmegaConf

    path = Path(__file__).resolve().parents[2] / "configs" / "env" / "network_orgym.yaml"
    raw = OmegaConf.to_container(OmegaConf.load(path))  # its own keys; the rest are the defaults
    return {k: v for k, v in raw.items() if k not in ("_target_", "defaults", "training", "evaluation")}


def simulator_case() -> SpeedCase:
    def run(seconds: float) -> float:
        from agents.network.heuristics import echelon_cover, levels_from_safety
        from envs.network.config import NetworkConfig
        from envs.network.simulator import NetworkSimulator

        net = NetworkConfig(n_skus=1000).build()
        sim = NetworkSimulator(net)
        sim.reset(np.random.default_rng(0))
        levels = levels_from_safety(net, echelon_cover(net), (1.0, 1.0))
        cells = net.m * net.n

        def one(k: int) -> int:
            sim.step(np.maximum(levels - sim.echelon_position(), 0))
            if sim.t >= 10_000:
                sim.reset(np.random.default_rng(k))
            return cells

        return timed(seconds, one)

    return SpeedCase(SIM, "node-SKU-steps/s", run)


def env_case(label: str, kwargs: dict, unit_per_step: bool) -> SpeedCase:
    def run(seconds: float) -> float:
        import gymnasium

        import envs  # noqa: F401

        env = gymnasium.make("fulfillgym/Network-v0", **kwargs)
        space = env.action_space
        space.seed(0)
        actions = [space.sample() for _ in range(64)]
        env.reset(seed=0)
        base = env.unwrapped
        cells = 1 if unit_per_step else base.network.m * base.network.n

        def one(k: int) -> int:
            _, _, _, truncated, _ = env.step(actions[k % 64])
            if truncated:
                env.reset(seed=k)
            return cells

        return timed(seconds, one)

    return SpeedCase(label, "steps/s" if unit_per_step else "node-SKU-steps/s", run)


def orgym_batch_case(copies: int = 1000) -> SpeedCase:
    def run(seconds: float) -> float:
        from dataclasses import replace

        from envs.network.config import NetworkConfig
        from envs.network.simulator import NetworkSimulator

        net = NetworkConfig(**_orgym_kwargs()).build()
        sim = NetworkSimulator(replace(net), copies=copies)
        rng = np.random.default_rng(0)
        orders = rng.integers(0, 100, size=(64, net.m, copies))
        sim.reset(np.random.default_rng(0))

        def one(k: int) -> int:
            sim.step(orders[k % 64])
            if sim.t >= net.config.episode_length:
                sim.reset(np.random.default_rng(k))
            return copies

        return timed(seconds, one)

    return SpeedCase(ORGYM_BATCH, "episode-steps/s", run)


def parallel_case() -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.network.parallel_env import NetworkParallelEnv

        env = NetworkParallelEnv(n_skus=1000, action_type="level")
        env.reset(seed=0)
        space = env.action_space(env.possible_agents[0])
        space.seed(0)
        acts = {a: space.sample() for a in env.possible_agents}

        def one(k: int) -> int:
            env.step(acts)
            if not env.agents:
                env.reset(seed=k)
            return len(acts)

        return timed(seconds, one)

    return SpeedCase("network_v0, DC + 3 MFCs x 1,000 SKUs (random level actions)", "agent-steps/s", run)


def speed_cases() -> list[SpeedCase]:
    return [simulator_case(),
            env_case(ENV, {"n_skus": 1000, "action_type": "level"}, unit_per_step=False),
            env_case(ORGYM, _orgym_kwargs(), unit_per_step=True),
            orgym_batch_case(),
            parallel_case()]


def speed_notes(rates: dict[str, float], reference: float) -> list[str]:
    sim, orgym, batch = rates[SIM], rates[ORGYM], rates[ORGYM_BATCH]
    return [f"The simulator runs {sim / 1e6:,.1f}M node-SKU-steps/s on DC + 3 MFCs x 1,000 SKUs; goal >= "
            f"{GOAL_NODE_SKU / 1e6:g}M: {'met' if sim >= GOAL_NODE_SKU else 'NOT met'}. Through Network-v0 "
            f"(observation built every step): {rates[ENV] / 1e6:,.1f}M.",
            f"The OR-Gym configuration runs {orgym:,.0f} steps/s, {orgym / ORGYM_MEASURED:.1f}x OR-Gym's own "
            f"InvManagement-v1 ({ORGYM_MEASURED:,.0f} steps/s measured here); goal >= {GOAL_ORGYM_FACTOR:g}x: "
            f"{'met' if orgym >= GOAL_ORGYM_FACTOR * ORGYM_MEASURED else 'NOT met'} for one Gym env (20x would be "
            f"{GOAL_ORGYM_FACTOR * ORGYM_MEASURED:,.0f} steps/s, {GOAL_ORGYM_FACTOR * ORGYM_MEASURED / reference:.1f}x "
            f"CartPole-v1's raw step here: beyond any Python Gym step). Stepping 1,000 "
            f"episodes side by side in one simulator (copies): {batch:,.0f} episode-steps/s, "
            f"{batch / ORGYM_MEASURED:.0f}x ({'met' if batch >= GOAL_ORGYM_FACTOR * ORGYM_MEASURED else 'NOT met'})."]
