"""The config loader under random input: every bad value is one ConfigError line, never a crash.

Hypothesis drives cdk.json-shaped contexts (objects or JSON strings, as `-c` gives them) with
random values in known and unknown settings through `config_from_context`, the function
app.py calls; a good config loads, anything else must be a ConfigError naming a field.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.config import (
    ENVIRONMENTS_CONTEXT_KEY,
    PIPELINE_CONTEXT_KEY,
    AppConfig,
    EnvironmentConfig,
    PipelineSettings,
    config_from_context,
)
from guardrails.rollout.settings import DeploymentSettings, EndpointSettings, JudgeSettings
from guardrails.validation import ConfigError

ENVIRONMENTS = ("dev", "staging", "prod")
ACCOUNT = {"account": "111111111111", "region": "us-east-1"}
NESTED = {"endpoint": EndpointSettings, "deployment": DeploymentSettings, "judge": JudgeSettings}
TOP_LEVEL = [f.name for f in dataclasses.fields(EnvironmentConfig) if f.name not in NESTED]
TOP_LEVEL.remove("name")
PIPELINE_FIELDS = [f.name for f in dataclasses.fields(PipelineSettings)]

# JSON values, plus what a hand-edited cdk.json or a typo produces: NaN, huge numbers, nesting.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["yes", "canary", "ml.m5.large", "guardrails", "a@b.co", "111111111111"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def environment_settings(draw: st.DrawFn) -> dict[str, Any]:
    """One environment's overrides: a few known settings, nested ones too, set to anything."""
    values: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(TOP_LEVEL), max_size=3, unique=True)):
        values[name] = draw(json_values)
    for name, cls in NESTED.items():
        fields = [f.name for f in dataclasses.fields(cls)]
        chosen = draw(st.lists(st.sampled_from(fields), max_size=2, unique=True))
        if chosen:
            values[name] = {field: draw(json_values) for field in chosen}
    if draw(st.booleans()):
        values[draw(st.text(min_size=1, max_size=8))] = draw(json_values)  # unknown or typo
    return values


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    """A context as cdk.json or `-c` holds it: each key an object, a JSON string, or junk."""
    environments: Any = {name: draw(environment_settings()) for name in ENVIRONMENTS}
    environments["prod"] = {**ACCOUNT, **environments["prod"]}
    if draw(st.integers(0, 9)) == 0:
        environments = draw(json_values)  # the whole key is something else
    pipeline: Any = {
        name: draw(json_values)
        for name in draw(st.lists(st.sampled_from(PIPELINE_FIELDS), max_size=2, unique=True))
    }
    context = {ENVIRONMENTS_CONTEXT_KEY: environments, PIPELINE_CONTEXT_KEY: pipeline}
    for key in context:
        if draw(st.booleans()):
            context[key] = json.dumps(context[key])
    return context


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contexts())
def test_any_context_loads_or_fails_with_one_config_error_line(context):
    try:
        config = config_from_context(context.get)
    except ConfigError as error:
        message = str(error)
        assert error.field, message
        assert message.startswith(f"{error.field}: ")
        assert "\n" not in message
        assert len(message) < 400
    else:
        assert isinstance(config, AppConfig)


@settings(max_examples=100, deadline=None)
@given(
    env=st.sampled_from(ENVIRONMENTS),
    section=st.sampled_from(sorted(NESTED)),
    data=st.data(),
)
def test_a_wrongly_typed_setting_names_its_field(env, section, data):
    """Text where a number belongs, a fraction where a whole number does, and so on."""
    cls = NESTED[section]
    field = data.draw(st.sampled_from(dataclasses.fields(cls)))
    wrong = {
        "int": st.one_of(st.text(max_size=5), st.booleans(), st.floats(0.1, 0.9)),
        "float": st.one_of(st.text(max_size=5), st.booleans(), st.none()),
        "str": st.one_of(st.integers(), st.booleans(), st.lists(st.text(), max_size=2)),
    }.get(
        str(field.type),
        st.one_of(
            st.text(max_size=5),
            st.booleans(),
            st.dictionaries(st.just("x"), st.integers(), max_size=1),
        ),
    )
    value = data.draw(wrong)
    overrides = {"prod": dict(ACCOUNT)}
    overrides[env] = {**overrides.get(env, {}), section: {field.name: value}}
    try:
        config_from_context({ENVIRONMENTS_CONTEXT_KEY: overrides}.get)
    except ConfigError as error:
        assert error.field == f"environments.{env}.{section}.{field.name}", str(error)
    else:
        raise AssertionError(f"{section}.{field.name} = {value!r} was accepted")
