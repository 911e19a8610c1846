"""StudyCache: the bounded LRU of per-study entries behind warm designers and stopping checks."""

from __future__ import annotations

import dataclasses

import pytest

from tests.service.conftest import CONFIG
from tuner.config import StudyInfo
from tuner.service._study_cache import StudyCache, is_same_study


class _Entry:
    pass


def test_the_least_recently_used_study_is_evicted() -> None:
    cache = StudyCache(2, _Entry)
    a, b = cache.get("a"), cache.get("b")
    assert cache.get("a") is a  # a is now the most recently used
    cache.get("c")
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert cache.get("b") is not b  # a new, empty entry


def test_drop_forgets_only_the_entry_it_was_given() -> None:
    cache = StudyCache(4, _Entry)
    old = cache.get("a")
    cache.drop("a")
    new = cache.get("a")
    cache.drop("a", old)  # a stale holder cannot drop the new entry
    assert cache.get("a") is new
    cache.drop("a", new)
    assert "a" not in cache
    cache.clear()
    assert len(cache) == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        StudyCache(0, _Entry)


def test_a_study_created_again_under_its_name_is_another_study() -> None:
    study = StudyInfo(name="s", config=CONFIG, created_at=1.0)
    assert is_same_study(study, dataclasses.replace(study))
    assert not is_same_study(None, study)
    assert not is_same_study(study, dataclasses.replace(study, created_at=2.0))
    other = dataclasses.replace(CONFIG, seed=8)
    assert not is_same_study(study, dataclasses.replace(study, config=other))
