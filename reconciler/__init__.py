"""Declarative reconciler for the Gcore Streaming Platform."""

__version__ = "0.1.0"
