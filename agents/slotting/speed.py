"""Speed cases of the slotting task (``python -m experiments.speed --task slotting``).

* env steps (inbound loads put away) per second of ``fulfillgym/Slotting-v0`` on the default
  warehouse (10 aisles x 2 sides x 25 positions x 4 levels = 2,000 slots, 1,000 SKUs,
  S-shape routing, grid observation), the env made with ``gymnasium.make`` (its wrappers
  included), with random masked actions (a legal slot drawn from ``info["action_mask"]``);
  the tours played between steps are part of a step;
* the same with the closest-open rule;
* operator-steps per second of ``slotting_v0`` (3 operators, random masked actions);
* tours per second of the exact (Ratliff-Rosenthal) routing alone, on random 20-pick tours of
  the default warehouse.

Goals: at least 20,000 env steps/s with random masked actions; optimal routing at most 1 ms
per tour of 20 picks.
"""

from __future__ import annotations

import numpy as np

from agents.speed_case import SpeedCase, timed

GOAL_STEPS = 20_000.0
GOAL_TOUR_MS = 1.0
HEADLINE = "Slotting-v0 (default warehouse, random masked actions)"
ROUTING = "optimal routing (20 picks, default warehouse)"



def env_case(label: str, closest: bool) -> SpeedCase:
    def run(seconds: float) -> float:
        import gymnasium

        import envs  # noqa: F401

        env = gymnasium.make("fulfillgym/Slotting-v0")
        rng = np.random.default_rng(0)
        sim = env.unwrapped.sim
        state = {"info": env.reset(seed=0)[1]}

        def one(k: int) -> int:
            legal = np.flatnonzero(state["info"]["action_mask"])
            a = legal[np.argmin(sim.distance_rank[legal])] if closest else legal[rng.integers(legal.size)]
            _, _, done, _, state["info"] = env.step(int(a))
            if done:
                state["info"] = env.reset(seed=k)[1]
            return 1

        return timed(seconds, one)

    return SpeedCase(label, "steps/s", run)


def operators_case() -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.slotting.parallel_env import SlottingParallelEnv

        env = SlottingParallelEnv(n_operators=3)
        rng = np.random.default_rng(0)
        state = {"obs": env.reset(seed=0)[0]}

        def one(k: int) -> int:
            acts = {a: int(rng.choice(np.flatnonzero(o["action_mask"]))) for a, o in state["obs"].items()}
            state["obs"] = env.step(acts)[0]
            if not env.agents:
                state["obs"] = env.reset(seed=k)[0]
            return len(acts)

        return timed(seconds, one)

    return SpeedCase("slotting_v0 (3 operators, random masked actions)", "operator-steps/s", run)


def routing_case() -> SpeedCase:
    def run(seconds: float) -> float:
        from envs.slotting.layout import Layout
        from envs.slotting.routing import tour_length

        lay = Layout()
        tours = np.random.default_rng(0).integers(0, lay.n_slots, size=(256, 20))

        def one(k: int) -> int:
            tour_length(lay, tours[k % len(tours)], "optimal")
            return 1

        return timed(seconds, one)

    return SpeedCase(ROUTING, "tours/s", run)


def speed_cases() -> list[SpeedCase]:
    return [env_case(HEADLINE, closest=False), env_case("Slotting-v0 (default warehouse, closest open)", closest=True),
            operators_case(), routing_case()]


def speed_notes(rates: dict[str, float], reference: float) -> list[str]:
    steps, tours = rates[HEADLINE], rates[ROUTING]
    return [f"Slotting-v0 runs {steps:,.0f} steps/s with random masked actions; goal >= {GOAL_STEPS:,.0f}: "
            f"{'met' if steps >= GOAL_STEPS else 'NOT met'}.",
            f"Optimal routing takes {1000 / tours:.3f} ms per 20-pick tour; goal <= {GOAL_TOUR_MS:g} ms: "
            f"{'met' if 1000 / tours <= GOAL_TOUR_MS else 'NOT met'}."]
