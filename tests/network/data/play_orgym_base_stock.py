"""Play an installation base-stock policy in OR-Gym's own InvManagement-v1 (a cross-check).

THIS SCRIPT DOES NOT RUN IN THE PROJECT VENV: it needs OR-Gym 0.5.0 in the throwaway venv of
``make_orgym_fixture.py``. Usage (levels of stages 0, 1, 2, then replications)::

    /tmp/orgym_venv_h2/bin/python tests/network/data/play_orgym_base_stock.py 89 133 220 256

Each stage orders up to its level on its installation position (on hand + in transit),
what ``env=network_orgym``'s tuned ``base_stock`` does; the script prints OR-Gym's mean
episode reward (discounted by 0.97) and the undiscounted profit with 95% CIs, to compare with
``experiments.benchmark env=network_orgym`` (KPIs ``discounted_profit``, ``episode_profit``).
Replication r uses OR-Gym's ``seed_int=r`` (a freshly made env: OR-Gym seeds NumPy's global
generator only when the env is created).
"""

import sys

import numpy as np
import or_gym

levels = np.array([float(x) for x in sys.argv[1:4]])  # stages 0, 1, 2
reps = int(sys.argv[4])
rets, profits = [], []
for seed in range(reps):
    env = or_gym.make("InvManagement-v1", env_config={"seed_int": seed})
    env.reset()
    total = disc = 0.0
    for t in range(env.periods):
        n = env.period
        inv = env.I[n]                      # on hand at stages 0..2
        pipe = env.T[n]                     # in transit into stages 0..2
        pos = inv + pipe
        action = np.maximum(levels - pos, 0)
        _, r, done, _ = env.step(action)
        disc += r
        total += r / env.alpha ** t
        if done:
            break
    rets.append(disc)
    profits.append(total)
r, p = np.array(rets), np.array(profits)
print(f"discounted {r.mean():.1f} +- {1.96*r.std(ddof=1)/np.sqrt(reps):.1f}; undiscounted {p.mean():.1f} +- {1.96*p.std(ddof=1)/np.sqrt(reps):.1f}; reps {reps}")
