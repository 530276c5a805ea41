"""The digital twin: live state now; the AAS model of the plant comes with the twin issue."""

from werk.twin.state import LiveState

__all__ = ["LiveState"]
