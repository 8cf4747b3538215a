"""guardrails/validation.py: one set of type checks for every settings class, one-line errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails.validation import (
    ConfigError,
    check_fields,
    check_range,
    env_json,
    env_text,
    from_mapping,
)


@dataclass(frozen=True, kw_only=True)
class Inner:
    count: int = 1
    share: float = 0.5

    def __post_init__(self) -> None:
        check_fields(self)
        check_range("count", self.count, 1, 10)


@dataclass(frozen=True, kw_only=True)
class Outer:
    name: str
    enabled: bool = False
    owner: str | None = None
    steps: tuple[int, ...] = (1, 2)
    emails: tuple[str, ...] = ()
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        check_fields(self)


def test_values_from_json_become_the_annotated_types():
    built = from_mapping(Outer, {"name": "x", "steps": [3, 4.0], "inner": {"share": 1}})
    assert built == Outer(name="x", steps=(3, 4), inner=Inner(share=1.0))
    assert isinstance(built.steps[1], int) and isinstance(built.inner.share, float)


def test_a_nested_override_keeps_the_other_defaults():
    defaults = {"inner": Inner(count=7, share=0.1)}
    built = from_mapping(Outer, {"name": "x", "inner": {"share": 0.2}}, defaults=defaults)
    assert built.inner == Inner(count=7, share=0.2)


def test_a_comma_separated_string_is_a_list_of_names():
    built = from_mapping(Outer, {"name": "x", "emails": "a@x.io, b@x.io"})
    assert built.emails == ("a@x.io", "b@x.io")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": "x", "enabled": "yes"}, "cfg.enabled: must be true or false (got 'yes')"),
        ({"name": "x", "inner": {"count": 2.5}}, "cfg.inner.count: must be a whole number"),
        ({"name": "x", "inner": {"count": True}}, "cfg.inner.count: must be a whole number"),
        ({"name": "x", "inner": {"share": "0.5"}}, "cfg.inner.share: must be a number"),
        ({"name": "x", "inner": {"share": float("nan")}}, "cfg.inner.share: must be a finite"),
        ({"name": 3}, "cfg.name: must be text (got 3)"),
        ({"name": "x", "owner": 5}, "cfg.owner: must be text"),
        ({"name": "x", "steps": "1,2"}, "cfg.steps: must be a list"),
        ({"name": "x", "steps": {"a": 1}}, "cfg.steps: must be a list"),
        ({"name": "x", "inner": {"count": 11}}, "cfg.inner.count: must be between 1 and 10"),
        ({"name": "x", "inner": {"cuont": 2}}, "cfg.inner.cuont: unknown setting (known: count"),
        ({"name": "x", "new\nline": 1}, "cfg.'new\\nline': unknown setting"),
        ({"name": "x", "inner": 3}, "cfg.inner: must be a mapping of settings"),
        ({}, "cfg: missing 1 required keyword-only argument: 'name'"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_field(values, message):
    with pytest.raises(ConfigError) as error:
        from_mapping(Outer, values, path="cfg")
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_fixed_values_cannot_be_overridden():
    with pytest.raises(ConfigError, match="cfg.name: unknown setting"):
        from_mapping(Outer, {"name": "y"}, path="cfg", fixed={"name": "x"})


def test_direct_construction_runs_the_same_checks():
    with pytest.raises(ConfigError, match="^count: must be a whole number"):
        Inner(count=1.5)  # type: ignore[arg-type]


@given(
    st.one_of(
        st.text(max_size=5),
        st.booleans(),
        st.floats(allow_nan=True),
        st.lists(st.integers(), max_size=2),
        st.none(),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
)
def test_any_bad_count_is_a_config_error_never_a_crash(value):
    try:
        built = from_mapping(Inner, {"count": value}, path="inner")
    except ConfigError as error:
        assert str(error).startswith("inner.count: ")
    else:
        assert isinstance(built.count, int) and not isinstance(built.count, bool)


def test_environment_variables_name_themselves():
    assert env_text({"A": "x"}, "A") == "x"
    assert env_json({"A": '{"b": 1}'}, "A", dict) == {"b": 1}
    with pytest.raises(ConfigError, match="^A: required environment variable"):
        env_text({"A": "  "}, "A")
    with pytest.raises(ConfigError, match="^A: not valid JSON"):
        env_json({"A": "{"}, "A")
    with pytest.raises(ConfigError, match="^A: must be a JSON list"):
        env_json({"A": "{}"}, "A", list)
