"""Fixtures of the spec tests: a small valid document to break, and error helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tuner.spec import ExperimentError, FieldError, load_experiment

FIXTURES = Path(__file__).parent / "fixtures"


def _document() -> dict[str, Any]:
    return {
        "apiVersion": "tuner.dev/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": "demo"},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "parameters": [
                {
                    "name": "lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "0.001", "max": "0.1"},
                },
                {
                    "name": "layers",
                    "parameterType": "int",
                    "feasibleSpace": {"min": "1", "max": "4"},
                },
            ],
            "trialTemplate": {
                "primaryContainerName": "train",
                "trialParameters": [
                    {"name": "learningRate", "reference": "lr"},
                    {"name": "layers", "reference": "layers"},
                ],
                "trialSpec": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    {
                                        "name": "train",
                                        "image": "python:3.12",
                                        "command": [
                                            "python",
                                            "train.py",
                                            "--lr=${trialParameters.learningRate}",
                                            "--layers=${trialParameters.layers}",
                                        ],
                                    }
                                ],
                            }
                        }
                    },
                },
            },
        },
    }


@pytest.fixture
def fixtures() -> Path:
    """The folder of the YAML fixtures."""
    return FIXTURES


@pytest.fixture
def document() -> dict[str, Any]:
    """A small valid Experiment, fresh for each test to break."""
    return _document()


@pytest.fixture
def spec(document: dict[str, Any]) -> dict[str, Any]:
    """``document["spec"]``."""
    result: dict[str, Any] = document["spec"]
    return result


@pytest.fixture
def container(spec: dict[str, Any]) -> dict[str, Any]:
    """The one container of ``document``'s trialSpec."""
    result: dict[str, Any] = spec["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    return result


class Errors(list[FieldError]):
    """The errors of one document, with lookups by path."""

    @property
    def paths(self) -> list[str]:
        """The field paths, in order."""
        return [error.path for error in self]

    def at(self, path: str) -> str:
        """The one message at ``path``."""
        messages = [error.message for error in self if error.path == path]
        assert len(messages) == 1, f"{path}: {messages} in {self.paths}"
        return messages[0]


def _errors_of(source: Any) -> Errors:
    with pytest.raises(ExperimentError) as info:
        load_experiment(source)
    return Errors(info.value.errors)


@pytest.fixture
def errors_of() -> Callable[[Any], Errors]:
    """``errors_of(source)``: the errors of an invalid document (fails if it loads)."""
    return _errors_of
