"""The endpoint stack's custom resource: a `cdk deploy` reconciles the endpoint, never its model.

`reconcile` decides (pure), `handler` is the Provider framework's on_event adapter.
"""
