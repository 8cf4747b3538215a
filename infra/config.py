"""The app's configuration: one validated config per environment, plus the pipeline's.

The CDK app and its constructs import their settings from here. The classes are defined in
guardrails/config.py (pure: no CDK), because the operator CLI, installed without the CDK app,
reads the same cdk.json with the same checks; the settings the rollout Lambdas also read are
defined once in guardrails/rollout/settings.py.
"""

from guardrails.config import *  # noqa: F403
from guardrails.config import __all__ as __all__
