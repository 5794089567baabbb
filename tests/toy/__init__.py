"""The toy task of ``docs/adding_a_task.md`` (the repeated newsvendor), registered by the tests."""

import gymnasium

if "toy/Newsvendor-v0" not in gymnasium.registry:
    gymnasium.register(id="toy/Newsvendor-v0", entry_point="tests.toy.env:NewsvendorEnv")
