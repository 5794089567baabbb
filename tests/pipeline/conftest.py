"""The ``pipeline`` fixture of the ``test_train_*.py`` modules (see ``training_runs.py``)."""

from __future__ import annotations

import pytest

from tests.pipeline.training_runs import JOBS, STARTED, Pipeline


@pytest.fixture(scope="module")
def pipeline(request, tmp_path_factory):
    """Starts the jobs that this module's selected tests declare with ``needs`` (only this
    module's: under pytest-xdist a module runs whole on one worker, other modules elsewhere)."""
    wanted = []
    for item in request.session.items:
        if item.path != request.path:
            continue
        keys = getattr(getattr(item, "function", None), "needs", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        wanted += [key.format(**params) for key in keys]
    pipe = Pipeline(tmp_path_factory.mktemp("train"), [k for k in wanted if k in JOBS])
    yield pipe
    pipe.pool.shutdown(wait=False, cancel_futures=True)
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
    pipe.pool.shutdown(wait=True)
