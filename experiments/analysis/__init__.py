"""Analysis tools: commands that read what the verbs wrote (run directories, suite tables) or
build a one-off table, and are not part of the train -> benchmark -> export pipeline.

* ``python -m experiments.analysis.compare``: learning algorithms side by side, per instance,
  from ``experiments.suite`` tables;
* ``python -m experiments.analysis.time_to_gap``: wall time to a validation gap of training runs;
* ``python -m experiments.analysis.routing``: static VRPLIB / Solomon routing and the routing
  table (dispatch's routers against PyVRP).
"""
