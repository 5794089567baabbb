"""What the verbs share and nobody runs: the task of a config and clean errors (``common``),
run directories (``rundir``), result tables and plots (``reporting``, ``plots``) and the
summary over training seeds (``seeds``). Nothing here is a command."""
