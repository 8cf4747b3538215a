"""Constructs of one environment: stateful resources, endpoint, alarms, scaling, monitoring."""
