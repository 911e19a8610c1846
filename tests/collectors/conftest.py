"""Fixtures of the collector tests: a real service over loopback, and a recording sink."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.collectors.support import RecordingSink
from tuner.config import AlgorithmSpec, Direction, Objective, StudyConfig
from tuner.service import ServiceCore, create_server
from tuner.space import DoubleParameter, SearchSpace
from tuner.store import open_store
from tuner.trial import Trial

STUDY = "study"
CONFIG = StudyConfig(
    space=SearchSpace((DoubleParameter(name="lr", low=1e-4, high=1e-1),)),
    objective=Objective(
        metric_name="accuracy", direction=Direction.MAXIMIZE, additional_metric_names=("loss",)
    ),
    algorithm=AlgorithmSpec(name="random"),
    seed=1,
)


@dataclass
class Service:
    """A running server and the core behind it, to hand out trials and read the store."""

    core: ServiceCore
    endpoint: str

    def new_trial(self) -> Trial:
        [trial] = self.core.suggest_trials(STUDY, 1).trials
        return trial

    def measurements(self, trial_id: int) -> list[tuple[int, dict[str, float]]]:
        return [(m.step, dict(m.metrics)) for m in self.core.get_trial(trial_id).measurements]

    def environment(self, trial_id: int) -> dict[str, str]:
        """This environment, reporting to this service for ``trial_id``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
        env["TUNER_SERVICE_ENDPOINT"] = self.endpoint
        env["TUNER_TRIAL_ID"] = str(trial_id)
        return env


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """A server on 127.0.0.1 with a free port, over a SQLite file, with one study."""
    store = open_store(f"sqlite:///{tmp_path / 'tuner.db'}")
    core = ServiceCore(store)
    core.create_study(STUDY, CONFIG)
    server, port = create_server(core, host="127.0.0.1", port=0)
    server.start()
    try:
        yield Service(core=core, endpoint=f"127.0.0.1:{port}")
    finally:
        server.stop(None).wait()
        store.close()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()
