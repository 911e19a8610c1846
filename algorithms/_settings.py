"""Algorithm settings: frozen, typed dataclasses parsed from Katib's string settings.

Each algorithm declares its settings as a subclass of :class:`Settings` whose fields are
made with :func:`setting` (default, allowed range, description). The field's annotation
gives its type: ``int``, ``float``, ``bool``, ``str``, an :class:`enum.Enum`, or one of
those ``| None``. :func:`parse_settings` turns Katib's ``{"name": "value"}`` strings into
such an object; a settings object also checks itself when built directly, so an invalid
one cannot exist. Every error names its field as ``algorithm.settings.<name>``.

Examples:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, slots=True, kw_only=True)
    ... class ExampleSettings(Settings):
    ...     n_candidates: int = setting(24, ge=1, description="Candidates per suggestion.")
    >>> parse_settings(ExampleSettings, {"n_candidates": "8"})
    ExampleSettings(n_candidates=8)
    >>> parse_settings(ExampleSettings, {"n_candidates": "0"})
    Traceback (most recent call last):
    ...
    tuner.errors.InvalidArgumentError: algorithm.settings.n_candidates: must be >= 1, got 0
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tuner.errors import InvalidArgumentError

__all__ = ["SettingInfo", "Settings", "describe_settings", "parse_settings", "setting"]

_METADATA_KEY = "tuner.algorithms.setting"
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})

SettingsT = TypeVar("SettingsT", bound="Settings")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Constraint:
    description: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def violation(self, value: float) -> str | None:
        """What is wrong with ``value``, or None when it is in range."""
        if self.ge is not None and not value >= self.ge:
            return f"must be >= {self.ge}, got {value}"
        if self.gt is not None and not value > self.gt:
            return f"must be > {self.gt}, got {value}"
        if self.le is not None and not value <= self.le:
            return f"must be <= {self.le}, got {value}"
        if self.lt is not None and not value < self.lt:
            return f"must be < {self.lt}, got {value}"
        return None

    def describe(self) -> str:
        bounds = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        return ", ".join(
            f"{sign} {getattr(self, attr)}"
            for attr, sign in bounds
            if getattr(self, attr) is not None
        )


def setting(
    default: Any,
    *,
    description: str,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """Declare one field of a :class:`Settings` dataclass.

    Args:
        default: The value when the setting is not given.
        description: One sentence for users, shown in errors and help.
        ge: The value must be ``>=`` this (numeric settings only).
        gt: The value must be ``>`` this.
        le: The value must be ``<=`` this.
        lt: The value must be ``<`` this.

    Returns:
        A :func:`dataclasses.field` carrying the constraint as metadata.

    Raises:
        TypeError: The description is empty.
    """
    if not description:
        raise TypeError("every setting needs a description")
    constraint = _Constraint(description=description, ge=ge, gt=gt, le=le, lt=lt)
    return dataclasses.field(default=default, metadata={_METADATA_KEY: constraint})


@dataclass(frozen=True, slots=True, kw_only=True)
class _FieldSpec:
    name: str
    kind: type[Any]
    """``int``, ``float``, ``bool``, ``str`` or an ``Enum`` subclass."""
    is_optional: bool
    default: Any
    constraint: _Constraint

    @property
    def path(self) -> str:
        return f"algorithm.settings.{self.name}"

    def error(self, message: str) -> InvalidArgumentError:
        return InvalidArgumentError(message, field=self.path)

    def type_name(self) -> str:
        if issubclass(self.kind, enum.Enum):
            name = "one of " + ", ".join(str(member.value) for member in self.kind)
        else:
            name = self.kind.__name__
        return f"{name} or None" if self.is_optional else name


@dataclass(frozen=True, slots=True)
class Settings:
    """Base class of every algorithm's settings; checks every field when built.

    Subclasses are ``@dataclass(frozen=True, slots=True, kw_only=True)`` with fields made by
    :func:`setting`.

    Raises:
        InvalidArgumentError: A field has the wrong type or is out of range; ``field`` is
            ``algorithm.settings.<name>``.
    """

    def __post_init__(self) -> None:
        for spec in _field_specs(type(self)):
            object.__setattr__(self, spec.name, _checked(spec, getattr(self, spec.name)))


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingInfo:
    """One setting of an algorithm, described for users (help texts, docs)."""

    name: str
    type: str
    """``int``, ``float``, ``bool``, ``str`` or ``one of a, b``, with `` or None`` if optional."""
    default: str
    description: str
    range: str
    """Like ``>= 0, < 1``; empty when any value of the type is allowed."""


def parse_settings(settings_type: type[SettingsT], raw: Mapping[str, str]) -> SettingsT:
    """Build a settings object from Katib's string settings.

    Args:
        settings_type: The algorithm's :class:`Settings` subclass.
        raw: Setting names to their values as strings (``{"random_state": "42"}``); the
            settings not given keep their defaults.

    Returns:
        The settings object.

    Raises:
        InvalidArgumentError: A setting is unknown (the message lists the known ones), or
            its value has the wrong type or is out of range; ``field`` is
            ``algorithm.settings.<name>``.
    """
    specs = {spec.name: spec for spec in _field_specs(settings_type)}
    values: dict[str, Any] = {}
    for name in sorted(raw):
        spec = specs.get(name)
        if spec is None:
            known = (
                f"the known settings are: {', '.join(specs)}"
                if specs
                else "this algorithm takes no settings"
            )
            raise InvalidArgumentError(
                f"unknown setting {name!r}; {known}", field=f"algorithm.settings.{name}"
            )
        values[name] = _parsed(spec, str(raw[name]))
    return settings_type(**values)


def describe_settings(settings_type: type[Settings]) -> tuple[SettingInfo, ...]:
    """Describe every setting of a settings class, in declaration order.

    Examples:
        >>> from tuner.algorithms import RandomSettings, describe_settings
        >>> describe_settings(RandomSettings)[0].name
        'random_state'
    """
    return tuple(
        SettingInfo(
            name=spec.name,
            type=spec.type_name(),
            default=str(
                spec.default.value if isinstance(spec.default, enum.Enum) else spec.default
            ),
            description=spec.constraint.description,
            range=spec.constraint.describe(),
        )
        for spec in _field_specs(settings_type)
    )


def _field_specs(settings_type: type[Settings]) -> tuple[_FieldSpec, ...]:
    specs = _FIELD_SPECS.get(settings_type)
    if specs is None:
        specs = _FIELD_SPECS[settings_type] = _read_field_specs(settings_type)
    return specs


_FIELD_SPECS: dict[type[Settings], tuple[_FieldSpec, ...]] = {}


def _read_field_specs(settings_type: type[Settings]) -> tuple[_FieldSpec, ...]:
    hints = typing.get_type_hints(settings_type)
    specs = []
    for field in dataclasses.fields(settings_type):
        constraint = field.metadata.get(_METADATA_KEY)
        if not isinstance(constraint, _Constraint):
            raise TypeError(
                f"{settings_type.__name__}.{field.name} must be declared with setting()"
            )
        kind, is_optional = _unwrap_optional(hints[field.name])
        if not (kind in (int, float, bool, str) or issubclass(kind, enum.Enum)):
            raise TypeError(f"{settings_type.__name__}.{field.name}: unsupported type {kind!r}")
        specs.append(
            _FieldSpec(
                name=field.name,
                kind=kind,
                is_optional=is_optional,
                default=field.default,
                constraint=constraint,
            )
        )
    return tuple(specs)


def _unwrap_optional(hint: Any) -> tuple[type[Any], bool]:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) == 1 and len(typing.get_args(hint)) == 2 and isinstance(members[0], type):
            return members[0], True
        raise TypeError(f"unsupported settings type {hint!r}")
    if not isinstance(hint, type):
        raise TypeError(f"unsupported settings type {hint!r}")
    return hint, False


def _parsed(spec: _FieldSpec, text: str) -> Any:
    stripped = text.strip()
    kind = spec.kind
    if kind is bool:
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise spec.error(f"{text!r} is not a boolean (true or false)")
    if kind is int:
        try:
            return int(stripped)
        except ValueError:
            raise spec.error(f"{text!r} is not an integer") from None
    if kind is float:
        try:
            return float(stripped)
        except ValueError:
            raise spec.error(f"{text!r} is not a number") from None
    if issubclass(kind, enum.Enum):
        for member in kind:
            if stripped == str(member.value) or stripped.lower() == member.name.lower():
                return member
        allowed = ", ".join(str(member.value) for member in kind)
        raise spec.error(f"{text!r} is not one of: {allowed}")
    return text


def _checked(spec: _FieldSpec, value: Any) -> Any:
    if value is None and spec.is_optional:
        return None
    kind = spec.kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    is_bool = isinstance(value, bool)
    if not isinstance(value, kind) or (is_bool and kind is not bool):
        raise spec.error(f"must be of type {spec.type_name()}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise spec.error(f"must be a finite number, got {value}")
    if kind in (int, float):
        violation = spec.constraint.violation(value)
        if violation is not None:
            raise spec.error(violation)
    return value
