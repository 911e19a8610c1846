"""The peers of ``bench.workers``: how each opens the shared study and runs one ask/tell."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

__all__ = [
    "OPTUNA_JOURNAL",
    "OPTUNA_RDB",
    "PEERS",
    "TUNER_LOCAL",
    "TUNER_SERVER",
    "Cycle",
    "count_stored",
    "create_study",
    "open_cycle",
]

TUNER_LOCAL = "tuner (in-process)"
TUNER_SERVER = "tuner (server)"
OPTUNA_RDB = "optuna (RDBStorage)"
OPTUNA_JOURNAL = "optuna (JournalStorage)"
PEERS = (TUNER_LOCAL, TUNER_SERVER, OPTUNA_RDB, OPTUNA_JOURNAL)
CHOICES = ("a", "b", "c")
STUDY = "workers"

Cycle = Callable[[], tuple[int, int]]
"""One ask/tell; returns the handed trial's (id, number)."""


def open_cycle(peer: str, target: str, seed: int) -> Cycle:
    """Open the shared study as ``peer`` does (``target``: store URL, server address or
    journal file) and return one ask/tell cycle on it."""
    if peer in (TUNER_LOCAL, TUNER_SERVER):
        return _tuner_cycle(peer, target)
    return _optuna_cycle(peer, target, seed)


def _objective(x: float, y: float, c: str) -> float:
    return x**2 + y + CHOICES.index(c)


def _where(peer: str, target: str) -> tuple[str | None, str | None]:
    """``Study``'s ``store`` and ``server``: one of them is ``target``."""
    return (None, target) if peer == TUNER_SERVER else (target, None)


def _tuner_cycle(peer: str, target: str) -> Cycle:
    import tuner

    store, server = _where(peer, target)
    study = tuner.Study.load(STUDY, store=store, server=server)

    def cycle() -> tuple[int, int]:
        trial = study.suggest()
        p = trial.parameters
        study.complete(trial, _objective(float(p["x"]), float(p["y"]), str(p["c"])))
        return trial.id, trial.number

    return cycle


def _optuna_storage(peer: str, target: str) -> str | optuna.storages.BaseStorage:
    import optuna

    if peer == OPTUNA_JOURNAL:
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(target))
    if target.startswith("postgresql"):  # psycopg 3 is what is installed, not psycopg2
        return "postgresql+psycopg" + target.removeprefix("postgresql")
    return target


def _optuna_cycle(peer: str, target: str, seed: int) -> Cycle:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=STUDY,
        storage=_optuna_storage(peer, target),
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    space = {
        "x": FloatDistribution(-5.0, 5.0),
        "y": FloatDistribution(0.0, 1.0),
        "c": CategoricalDistribution(CHOICES),
    }

    def cycle() -> tuple[int, int]:
        trial = study.ask(space)
        p = trial.params
        study.tell(trial, _objective(p["x"], p["y"], p["c"]))
        return trial._trial_id, trial.number

    return cycle


def create_study(peer: str, target: str) -> None:
    """Make the shared study (random sampler, seed 0) where the workers will open it."""
    if peer in (TUNER_LOCAL, TUNER_SERVER):
        import tuner

        store, server = _where(peer, target)
        tuner.Study.create(
            STUDY,
            parameters=[
                tuner.DoubleParameter(name="x", low=-5.0, high=5.0),
                tuner.DoubleParameter(name="y", low=0.0, high=1.0),
                tuner.CategoricalParameter(name="c", choices=CHOICES),
            ],
            objective="loss",
            algorithm="random",
            seed=0,
            store=store,
            server=server,
        ).close()
        return
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(
        study_name=STUDY,
        storage=_optuna_storage(peer, target),
        sampler=optuna.samplers.RandomSampler(seed=0),
    )


def count_stored(peer: str, target: str) -> int:
    """Completed trials of the study, read back from its store (``target``: URL or file)."""
    if peer in (TUNER_LOCAL, TUNER_SERVER):
        import tuner

        with tuner.Study.load(STUDY, store=target) as ours:
            return sum(t.state is tuner.TrialState.SUCCEEDED for t in ours.trials)
    import optuna

    theirs = optuna.load_study(study_name=STUDY, storage=_optuna_storage(peer, target))
    return len(theirs.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
