"""The reconciler's contract with CDK: its environment variable and resource properties.

Apart from the handler so that synth (infra/environment/endpoint_reconciler.py) imports nothing
only the Lambda has (Powertools).
"""

from __future__ import annotations

STATE_MACHINE_ARN = "STATE_MACHINE_ARN"  # the environment's rollout state machine
# Resource properties CDK sets.
ENDPOINT_NAME_PROPERTY = "EndpointName"
PRODUCTION_PROPERTY = "Production"  # "true" or "false"
SERVING_MODEL_PROPERTY = "ServingModel"  # the parameter's JSON, resolved by CloudFormation
ENDPOINT_SETTINGS_PROPERTY = "EndpointSettings"  # EndpointSettings as JSON
