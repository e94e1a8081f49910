"""A stateful local Gcore Streaming API (streams, broadcasts, videos, webhooks, faults).

Imports nothing from the rest of `reconciler`: a simulator sharing the client's models would agree
with the client's bugs. See README.md in this directory.
"""

from reconciler.simulator.config import Faults, SimulatorConfig
from reconciler.simulator.core import Simulator
from reconciler.simulator.server import ServerHandle, start_server

__all__ = ["Faults", "ServerHandle", "Simulator", "SimulatorConfig", "start_server"]
