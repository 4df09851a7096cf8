"""The Inspect dock: what the network learned, on the current drawing and network (see dock.py)."""
from .dock import InspectContext, InspectDock

__all__ = ["InspectContext", "InspectDock"]
