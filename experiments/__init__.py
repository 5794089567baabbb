"""The verbs: ``python -m experiments.train | benchmark | export | speed | suite``, generic entry
points that talk only to tasks. ``experiments.analysis`` holds the commands outside that
pipeline (suite tables side by side, time to a gap, the routing table); ``experiments.support``
the modules the verbs share (nothing in it is a command)."""
