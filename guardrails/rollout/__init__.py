"""The guarded rollout: typed state, the decision policy, endpoint config shaping and the steps."""
