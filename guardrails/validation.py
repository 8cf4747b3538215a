"""Typed, validated settings classes: the checks every side of the CDK/Lambda boundary shares.

A settings class is a frozen, keyword-only dataclass whose `__post_init__` calls
`check_fields(self)` (every field has the type its annotation says: a bool is never a number,
a whole number never a fraction, a string never a bool) and then its own range rules. The app
builds them from cdk.json and the Lambdas rebuild the very same classes from the JSON CDK wrote
(`from_mapping`), so a value means the same thing, and is refused for the same reason, on both
sides. Pure: no AWS, no environment reads.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is invalid: `field` names it (dotted path), `rule` says what is allowed."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}" if field else rule)

    def within(self, path: str) -> ConfigError:
        """The same error, its field prefixed with the path of the object that holds it."""
        if not path:
            return self
        return ConfigError(f"{path}.{self.field}" if self.field else path, self.rule)


def fail(field: str, rule: str) -> typing.NoReturn:
    raise ConfigError(field, rule)


def got(value: Any) -> str:
    """`(got X)` for messages, short enough for one line."""
    text = repr(value)
    return f"(got {text[:80] + '...' if len(text) > 80 else text})"


# --------------------------------------------------------------------------- field types


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved field annotations of a settings class (computed once per class)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _is_whole(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value == int(value)


def _coerce(field: str, hint: Any, value: Any) -> Any:
    """`value` as the annotated type, or ConfigError naming the field and the type wanted."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _coerce(field, inner, value)
    if hint is bool:
        if not isinstance(value, bool):
            fail(field, f"must be true or false {got(value)}")
        return value
    if hint is int:
        if not _is_whole(value):
            fail(field, f"must be a whole number {got(value)}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(field, f"must be a number {got(value)}")
        if not math.isfinite(value):
            fail(field, f"must be a finite number {got(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            fail(field, f"must be text {got(value)}")
        return value
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(hint)
        if isinstance(value, str) and item_type is str:
            # Lists of names or addresses may come as one comma-separated string.
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
            fail(field, f"must be a list {got(value)}")
        return tuple(_coerce(f"{field}[{i}]", item_type, item) for i, item in enumerate(value))
    if _settings_class(hint) is not None:
        if not isinstance(value, hint):
            fail(field, f"must be a mapping of settings {got(value)}")
        return value
    return value


def check_fields(instance: Any) -> None:
    """Every field of a frozen settings dataclass has its annotated type (normalised in place).

    Lists become tuples and whole floats (3.0) whole numbers, so values from JSON compare equal
    to values written in code.
    """
    hints = _hints(type(instance))
    for item in dataclasses.fields(instance):
        value = getattr(instance, item.name)
        coerced = _coerce(item.name, hints[item.name], value)
        if coerced is not value:
            object.__setattr__(instance, item.name, coerced)


# --------------------------------------------------------------------------- mappings


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(item.name for item in dataclasses.fields(cls))


def fields_of(instance: Any) -> dict[str, Any]:
    """A settings object's field values, nested settings kept as objects."""
    return {item.name: getattr(instance, item.name) for item in dataclasses.fields(instance)}


def from_mapping(
    cls: type[T],
    values: Any,
    *,
    path: str = "",
    defaults: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> T:
    """An instance of settings class `cls` from a JSON-like mapping.

    Unknown keys are refused with the known ones. `defaults` are field values the mapping
    overrides; a nested settings class is built from a nested mapping over its default, so an
    override changes only what it names. `fixed` values are set by the caller and may not be
    overridden (e.g. an environment's name). Any error is raised with its field prefixed by
    `path`.
    """
    if not isinstance(values, Mapping):
        fail(path, f"must be a mapping of settings {got(values)}")
    fixed = dict(fixed or {})
    known = [name for name in field_names(cls) if name not in fixed]
    for key in values:
        if key not in known:
            # A key with control characters is shown escaped: the message stays one line.
            name = str(key) if str(key).isprintable() else repr(str(key))
            fail(_join(path, name), f"unknown setting (known: {', '.join(sorted(known))})")
    hints = _hints(cls)
    merged = dict(defaults or {})
    for key, value in values.items():
        hint = hints[key]
        nested = _settings_class(hint)
        if nested is not None and isinstance(value, Mapping):
            current = merged.get(key)
            value = from_mapping(
                nested,
                value,
                path=_join(path, key),
                defaults=fields_of(current) if isinstance(current, nested) else None,
            )
        merged[key] = value
    merged.update(fixed)
    try:
        return cls(**merged)
    except ConfigError as error:
        raise error.within(path) from None
    except TypeError as error:
        # A required setting is missing (the dataclass names it).
        fail(path, str(error).split(".__init__() ")[-1])


def _settings_class(hint: Any) -> type | None:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------- rules


def check_range(field: str, value: float, low: float, high: float, unit: str = "") -> None:
    """ConfigError unless low <= value <= high."""
    if not low <= value <= high:
        fail(field, f"must be between {_number(low)} and {_number(high)}{unit} {got(value)}")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def check_one_of(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        fail(field, f"must be one of {', '.join(allowed)} {got(value)}")


def check_pattern(field: str, value: str, pattern: re.Pattern[str], looks_like: str) -> None:
    if not pattern.match(value):
        fail(field, f"must look like {looks_like} {got(value)}")


# --------------------------------------------------------------------------- Lambda environment


def env_text(environ: Mapping[str, str], name: str) -> str:
    """A required environment variable's value, or ConfigError naming it."""
    value = environ.get(name, "")
    if not value.strip():
        fail(name, "required environment variable is missing or empty")
    return value


def env_json(environ: Mapping[str, str], name: str, kind: type | None = None) -> Any:
    """A required environment variable holding JSON (of type `kind`, when given)."""
    try:
        value = json.loads(env_text(environ, name))
    except json.JSONDecodeError as error:
        raise ConfigError(name, f"not valid JSON ({error.msg})") from None
    if kind is not None and not isinstance(value, kind):
        fail(name, f"must be a JSON {'object' if kind is dict else kind.__name__}")
    return value
