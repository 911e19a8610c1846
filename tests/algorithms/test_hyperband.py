"""Hyperband (ASHA inside): rungs, promotions, new configurations, settings, restarts."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import pytest

from tuner.algorithms import check_algorithm, make_designer
from tuner.algorithms._hyperband import HyperbandDesigner
from tuner.algorithms._resource import resource_rungs
from tuner.algorithms.testing import METRIC_NAME, study_config
from tuner.config import Direction
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Parameter,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.trial import Measurement, Trial, TrialState

EPOCHS = IntParameter(name="epochs", low=1, high=27)
X = DoubleParameter(name="x", low=0.0, high=1.0)

Point = dict[str, ParameterValue]


def designer(
    *parameters: Parameter,
    seed: int = 0,
    direction: Direction = Direction.MINIMIZE,
    **settings: str,
) -> HyperbandDesigner:
    space = SearchSpace(parameters or (X, EPOCHS))
    config = study_config(
        space,
        "hyperband",
        seed=seed,
        settings={"resource_name": "epochs", **settings},
        direction=direction,
    )
    built = make_designer(config)
    assert isinstance(built, HyperbandDesigner)
    return built


def trial(
    number: int,
    parameters: Mapping[str, ParameterValue],
    value: float | None = None,
    state: TrialState = TrialState.SUCCEEDED,
) -> Trial:
    final = None if value is None else Measurement(metrics={METRIC_NAME: value})
    return Trial(
        id=100 + number,
        study_name="study",
        number=number,
        parameters=dict(parameters),
        state=state,
        final_measurement=final,
    )


def at_first_rung(values: Sequence[float], first: int = 0) -> list[Trial]:
    """Completed trials of configurations x = 0.01, 0.02, ... at one epoch, valued in order."""
    return [
        trial(first + i, {"x": (i + 1) / 100, "epochs": 1}, value) for i, value in enumerate(values)
    ]


def refusal(space: SearchSpace, **settings: str) -> InvalidArgumentError:
    config = study_config(space, "hyperband", settings=settings)
    with pytest.raises(InvalidArgumentError) as checked:
        check_algorithm(config)
    with pytest.raises(InvalidArgumentError) as made:
        make_designer(config)
    assert str(made.value) == str(checked.value)
    return checked.value


# -- rungs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "eta", "r_l", "expected"),
    [
        (IntParameter(name="epochs", low=1, high=27), 3, None, (1, 3, 9, 27)),
        (IntParameter(name="epochs", low=1, high=16), 2, None, (1, 2, 4, 8, 16)),
        # max / min not a power of eta: the top rung is the max resource.
        (IntParameter(name="epochs", low=1, high=100), 3, None, (1, 3, 9, 27, 100)),
        (IntParameter(name="epochs", low=1, high=100), 3, 30.0, (1, 3, 9, 30)),
        (IntParameter(name="epochs", low=1, high=100, scale=Scale.LOG), 2, 8.5, (1, 2, 4, 8)),
        # On a step grid, rounded onto it; the max moves down onto it too.
        (IntParameter(name="epochs", low=5, high=100, step=5), 3, None, (5, 15, 100)),
        (IntParameter(name="epochs", low=1, high=30, step=2), 3, None, (1, 3, 9, 29)),
        (IntParameter(name="epochs", low=4, high=4), 3, None, (4,)),
        (IntParameter(name="epochs", low=2, high=5), 3, None, (5,)),  # 5 / 2 < eta
    ],
)
def test_rungs_of_int_resources(
    parameter: IntParameter, eta: int, r_l: float | None, expected: tuple[int, ...]
) -> None:
    rungs = resource_rungs(parameter, eta, r_l)
    assert rungs == expected
    assert all(type(rung) is int for rung in rungs)


@pytest.mark.parametrize(
    ("parameter", "eta", "r_l", "expected"),
    [
        (DoubleParameter(name="epochs", low=0.125, high=1.0), 2, None, (0.125, 0.25, 0.5, 1.0)),
        (DoubleParameter(name="epochs", low=1e-3, high=1.0), 10, None, (1e-3, 1e-2, 1e-1, 1.0)),
        (DoubleParameter(name="epochs", low=1e-3, high=1.0), 10, 0.5, (1e-3, 1e-2, 0.5)),
        (DoubleParameter(name="epochs", low=0.1, high=0.95, step=0.1), 3, None, (0.1, 0.3, 0.9)),
        (DoubleParameter(name="epochs", low=1.0, high=26.0), 3, None, (1.0, 3.0, 26.0)),
    ],
)
def test_rungs_of_double_resources(
    parameter: DoubleParameter, eta: int, r_l: float | None, expected: tuple[float, ...]
) -> None:
    rungs = resource_rungs(parameter, eta, r_l)
    assert rungs == pytest.approx(expected, rel=1e-12)
    assert rungs[0] == parameter.low
    assert all(type(rung) is float for rung in rungs)
    assert all(parameter.contains(rung) for rung in rungs)


def test_rungs_of_a_huge_range_stay_finite() -> None:
    rungs = resource_rungs(DoubleParameter(name="epochs", low=1e-300, high=1e300), 2)
    assert rungs[-1] == 1e300
    assert all(math.isfinite(rung) for rung in rungs)
    assert all(b > a for a, b in itertools.pairwise(rungs))


def test_suggestions_use_the_rung_resources() -> None:
    built = designer(X, DoubleParameter(name="epochs", low=0.5, high=4.5), eta="3")
    assert built.rungs == (0.5, 1.5, 4.5)
    assert {point["epochs"] for point in built.suggest(30)} == {0.5, 1.5, 4.5}


# -- brackets and new configurations ------------------------------------------------------------


def test_new_configurations_go_to_brackets_by_hyperband_sizes() -> None:
    # Rungs 1, 3, 9, 27: Hyperband starts 27, 12, 6 and 4 configurations in its brackets.
    points = designer().suggest(49)
    assert Counter(point["epochs"] for point in points) == {1: 27, 3: 12, 9: 6, 27: 4}
    # The brackets interleave: the first few already cover every bracket.
    assert [point["epochs"] for point in points[:11]] == [1, 1, 3, 1, 1, 3, 9, 1, 1, 3, 27]


def test_one_bracket_is_plain_successive_halving() -> None:
    assert {point["epochs"] for point in designer(n_brackets="1").suggest(20)} == {1}
    assert {point["epochs"] for point in designer(n_brackets="2").suggest(20)} == {1, 3}


def test_new_configurations_honour_types_and_scales() -> None:
    space = (
        DoubleParameter(name="lr", low=1e-5, high=1e-1, scale=Scale.LOG),
        IntParameter(name="units", low=1, high=1024, scale=Scale.LOG),
        DoubleParameter(name="dropout", low=0.0, high=0.5, step=0.1),
        DiscreteParameter(name="batch", values=(16, 32.0, 64)),
        CategoricalParameter(name="optimizer", choices=("adam", "sgd")),
        EPOCHS,
    )
    built = designer(*space)
    points = built.suggest(400)
    assert all(SearchSpace(space).contains(point) for point in points)
    assert all(type(point["units"]) is int and type(point["epochs"]) is int for point in points)
    assert all(type(point["lr"]) is float for point in points)
    assert {point["dropout"] for point in points} == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}
    assert {point["optimizer"] for point in points} == {"adam", "sgd"}
    assert {point["batch"] for point in points} == {16, 32.0, 64}
    # Log scales: about half of the values below the geometric middle of the range.
    below_middle = sum(point["lr"] < 1e-3 for point in points) / len(points)  # type: ignore[operator]
    assert 0.4 < below_middle < 0.6
    small_units = sum(point["units"] <= 32 for point in points) / len(points)  # type: ignore[operator]
    assert 0.4 < small_units < 0.6


# -- promotions -------------------------------------------------------------------------------


def test_the_best_third_of_a_rung_is_promoted_with_the_next_resource() -> None:
    built = designer(n_brackets="1")
    history = at_first_rung([0.5, 0.9, 0.1, 0.7, 0.3, 0.8, 0.6, 0.2, 0.4])
    built.update(history, [])
    points = built.suggest(5)
    # The three best (0.1, 0.2, 0.3: configurations 3, 8, 5), best first, with 3 epochs.
    assert points[:3] == [
        {"x": 0.03, "epochs": 3},
        {"x": 0.08, "epochs": 3},
        {"x": 0.05, "epochs": 3},
    ]
    assert [point["epochs"] for point in points[3:]] == [1, 1]
    assert not {point["x"] for point in points[3:]} & {t.parameters["x"] for t in history}


def test_eta_two_promotes_the_best_half() -> None:
    built = designer(n_brackets="1", eta="2")
    assert built.rungs == (1, 2, 4, 8, 27)
    built.update(at_first_rung([4.0, 1.0, 3.0, 2.0, 5.0]), [])
    assert built.suggest(3)[:2] == [{"x": 0.02, "epochs": 2}, {"x": 0.04, "epochs": 2}]


def test_a_maximised_objective_promotes_the_largest_values() -> None:
    built = designer(n_brackets="1", direction=Direction.MAXIMIZE)
    built.update(at_first_rung([0.5, 0.9, 0.1]), [])
    assert built.suggest(1) == [{"x": 0.02, "epochs": 3}]


def test_fewer_finished_than_eta_promotes_nothing() -> None:
    built = designer(n_brackets="1")
    built.update(at_first_rung([0.5, 0.1]), [])
    assert all(point["epochs"] == 1 for point in built.suggest(3))


def test_higher_rungs_are_promoted_first() -> None:
    built = designer(n_brackets="1")
    history = at_first_rung([0.1 * i for i in range(1, 10)])
    # The three best went on to 3 epochs; the best of those goes on to 9.
    history += [
        trial(10, {"x": 0.01, "epochs": 3}, 0.05),
        trial(11, {"x": 0.02, "epochs": 3}, 0.03),
        trial(12, {"x": 0.03, "epochs": 3}, 0.04),
    ]
    built.update(history, [])
    points = built.suggest(3)
    assert points[0] == {"x": 0.02, "epochs": 9}
    assert points[1]["epochs"] == 1


def test_a_configuration_is_never_promoted_twice() -> None:
    built = designer(n_brackets="1")
    history = at_first_rung([0.1 * i for i in range(1, 10)])
    built.update(history, [])
    first = built.suggest(9)
    promoted = [point for point in first if point["epochs"] == 3]
    assert [point["x"] for point in promoted] == [0.01, 0.02, 0.03]  # once each in a batch
    # Running: they count as promoted.
    running = [trial(20 + i, point, state=TrialState.ACTIVE) for i, point in enumerate(promoted)]
    built.update([], running)
    assert all(point["epochs"] == 1 for point in built.suggest(6))
    # Finished, one of them failed: still promoted, not again.
    done = [
        trial(t.number, t.parameters, 1.0, TrialState.FAILED if i == 0 else TrialState.SUCCEEDED)
        for i, t in enumerate(running)
    ]
    built.update(done, [])
    points = built.suggest(6)
    assert all(point["epochs"] != 3 for point in points)
    # Of the three at 3 epochs, the best that did not fail goes on to 9.
    assert points[0] == {"x": 0.02, "epochs": 9}
    assert all(point["epochs"] == 1 for point in points[1:])


def test_failed_infeasible_and_non_finite_trials_are_never_promoted() -> None:
    built = designer(n_brackets="1")
    worst = [
        trial(0, {"x": 0.01, "epochs": 1}, -100.0, TrialState.FAILED),
        trial(1, {"x": 0.02, "epochs": 1}, -100.0, TrialState.INFEASIBLE),
        trial(2, {"x": 0.03, "epochs": 1}, math.nan),
        trial(3, {"x": 0.04, "epochs": 1}, math.inf),
        trial(4, {"x": 0.05, "epochs": 1}, -math.inf),
        trial(5, {"x": 0.06, "epochs": 1}),
        trial(6, {"x": 0.07, "epochs": 1}, math.nan, TrialState.EARLY_STOPPED),
        trial(7, {"x": 0.08, "epochs": 1}, math.nan),
    ]
    built.update(worst, [])
    assert all(point["epochs"] == 1 for point in built.suggest(4))
    # They still count: with one finite trial, 9 finished make 3 places, only one taken.
    built.update([trial(8, {"x": 0.09, "epochs": 1}, 5.0)], [])
    points = built.suggest(3)
    assert points[0] == {"x": 0.09, "epochs": 3}
    assert [point["epochs"] for point in points[1:]] == [1, 1]


def test_early_stopped_trials_with_a_value_are_ranked() -> None:
    built = designer(n_brackets="1")
    history = at_first_rung([0.5, 0.6])
    history.append(trial(2, {"x": 0.03, "epochs": 1}, 0.1, TrialState.EARLY_STOPPED))
    built.update(history, [])
    assert built.suggest(1) == [{"x": 0.03, "epochs": 3}]


def test_trials_at_other_resources_and_outside_the_space_are_ignored() -> None:
    built = designer(n_brackets="1")
    history = at_first_rung([0.5, 0.6])
    history.append(trial(2, {"x": 0.03, "epochs": 2}, 0.1))  # not a rung
    history.append(trial(3, {"x": 0.04, "epochs": 1, "extra": 1}, 0.1))  # not in the space
    built.update(history, [])
    assert all(point["epochs"] == 1 for point in built.suggest(3))


def test_brackets_promote_within_themselves() -> None:
    built = designer(n_brackets="2")
    # Configurations started at 3 epochs are bracket 1: ranked only among themselves.
    history = at_first_rung([0.1, 0.2, 0.3])
    history += [
        trial(10 + i, {"x": 0.5 + i / 100, "epochs": 3}, v) for i, v in enumerate([9, 8, 7])
    ]
    built.update(history, [])
    points = built.suggest(2)
    assert points == [{"x": 0.52, "epochs": 9}, {"x": 0.01, "epochs": 3}]


# -- determinism and restarts -------------------------------------------------------------------


def loss(point: Mapping[str, ParameterValue]) -> float:
    x, epochs = point["x"], point["epochs"]
    assert isinstance(x, float) and isinstance(epochs, int)
    return (x - 0.3) ** 2 + 1.0 / epochs


def simulate(
    built: HyperbandDesigner,
    objective: Callable[[Mapping[str, ParameterValue]], float],
    n_trials: int,
    parallel: int,
    on_update: Callable[[Sequence[Trial], Sequence[Trial]], None] | None = None,
) -> list[Trial]:
    """Run trials ``parallel`` at a time, the oldest finishing first; every third fails."""
    finished: list[Trial] = []
    running: list[Trial] = []
    number = 0
    while len(finished) < n_trials:
        for point in built.suggest(parallel - len(running)):
            running.append(trial(number, point, state=TrialState.ACTIVE))
            number += 1
        if not running:
            break
        oldest = running.pop(0)
        state = TrialState.FAILED if oldest.number % 7 == 6 else TrialState.SUCCEEDED
        value = None if state is TrialState.FAILED else objective(oldest.parameters)
        done = trial(oldest.number, oldest.parameters, value, state)
        finished.append(done)
        built.update([done], running)
        if on_update is not None:
            on_update([done], running)
    return [*finished, *running]


def test_same_seed_same_suggestions_and_different_seeds_differ() -> None:
    runs = [simulate(designer(seed=seed), loss, 30, 3) for seed in (1, 1, 2)]
    assert [t.parameters for t in runs[0]] == [t.parameters for t in runs[1]]
    assert [t.parameters for t in runs[0]] != [t.parameters for t in runs[2]]


def test_a_rebuilt_designer_suggests_what_the_warm_one_does() -> None:
    warm = designer(seed=5)
    history: list[Trial] = []

    def check(done: Sequence[Trial], running: Sequence[Trial]) -> None:
        # After every trial that finishes, a designer rebuilt from the store's trials
        # suggests what the warm one, fed trial by trial, does.
        history.extend(done)
        rebuilt = designer(seed=5)
        rebuilt.update(history, running)
        assert rebuilt.suggest(4) == warm.suggest(4)

    trials = simulate(warm, loss, 40, 3, on_update=check)
    assert len(history) == 40
    assert any(t.parameters["epochs"] != 1 for t in trials)  # promotions happened


# -- finite spaces ------------------------------------------------------------------------------


def test_a_finite_space_runs_out_once_everything_ran_at_the_max_resource() -> None:
    space = (
        CategoricalParameter(name="kernel", choices=("rbf", "linear")),
        IntParameter(name="degree", low=1, high=3),
        IntParameter(name="epochs", low=1, high=9),
    )
    built = designer(*space)
    trials = simulate(built, lambda p: float(p["degree"]), 100, 2)
    keys = [tuple(t.parameters.values()) for t in trials]
    assert len(set(keys)) == len(keys)  # no point twice
    at_max = {
        (t.parameters["kernel"], t.parameters["degree"])
        for t in trials
        if t.parameters["epochs"] == 9
    }
    assert len(at_max) == 6
    assert len(trials) < 100
    assert built.suggest(3) == []


def test_a_space_of_only_the_resource() -> None:
    built = designer(EPOCHS)
    points = built.suggest(10)
    # One configuration, the empty one: it starts once, then runs at the max resource.
    assert points == [{"epochs": 1}, {"epochs": 27}]


# -- settings -----------------------------------------------------------------------------------


SPACE = SearchSpace(
    (
        CategoricalParameter(name="optimizer", choices=("adam", "sgd")),
        DoubleParameter(name="lr", low=1e-4, high=0.1, scale=Scale.LOG),
        IntParameter(name="epochs", low=1, high=81),
        IntParameter(name="layers", low=0, high=4),
    )
)


def test_the_resource_is_required() -> None:
    error = refusal(SPACE)
    assert error.field == "algorithm.settings.resource_name"
    assert "lr, epochs, layers" in error.message


def test_an_unknown_resource() -> None:
    error = refusal(SPACE, resource_name="steps")
    assert error.field == "algorithm.settings.resource_name"
    assert "'steps'" in error.message and "lr, epochs, layers" in error.message


def test_a_categorical_resource() -> None:
    error = refusal(SPACE, resource_name="optimizer")
    assert error.field == "algorithm.settings.resource_name"
    assert "categorical" in error.message


def test_a_discrete_resource() -> None:
    space = SearchSpace((DiscreteParameter(name="epochs", values=(1, 3, 9)),))
    assert refusal(space, resource_name="epochs").field == "algorithm.settings.resource_name"
    assert "no int or double" in refusal(space, resource_name="epochs").message


def test_a_resource_from_zero() -> None:
    error = refusal(SPACE, resource_name="layers")
    assert error.field == "space.parameters[3].low"


@pytest.mark.parametrize("eta", ["1", "0", "-3", "2.5", "x"])
def test_eta_below_two(eta: str) -> None:
    assert refusal(SPACE, resource_name="epochs", eta=eta).field == "algorithm.settings.eta"


@pytest.mark.parametrize("r_l", ["0.5", "82", "0", "nan"])
def test_r_l_outside_the_resource_range(r_l: str) -> None:
    assert refusal(SPACE, resource_name="epochs", r_l=r_l).field == "algorithm.settings.r_l"


def test_more_brackets_than_rungs() -> None:
    error = refusal(SPACE, resource_name="epochs", n_brackets="6")  # rungs 1, 3, 9, 27, 81
    assert error.field == "algorithm.settings.n_brackets"
    check_algorithm(
        study_config(SPACE, "hyperband", settings={"resource_name": "epochs", "n_brackets": "5"})
    )


def test_r_l_and_random_state() -> None:
    built = designer(X, EPOCHS, r_l="9")
    assert built.rungs == (1, 3, 9)
    a = designer(seed=1, random_state="7").suggest(3)
    assert a == designer(seed=2, random_state="7").suggest(3)
    assert a != designer(seed=1).suggest(3)


# -- a simulation -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_more_resource_wins_and_most_trials_are_cheap(seed: int) -> None:
    built = designer(seed=seed)
    trials = simulate(built, loss, 60, 3)
    finished = [t for t in trials if t.state is TrialState.SUCCEEDED]
    best = min(finished, key=lambda t: t.objective_value(METRIC_NAME) or math.inf)
    assert best.parameters["epochs"] == 27
    assert abs(best.parameters["x"] - 0.3) < 0.2  # type: ignore[operator]
    epochs = Counter(t.parameters["epochs"] for t in trials)
    assert epochs[1] + epochs[3] > len(trials) / 2
    assert epochs[27] < len(trials) / 4
