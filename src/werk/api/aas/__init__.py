"""The AAS Part 2 HTTP/REST API (v3.0) of the twin, mounted by ``werk.api.app`` at ``/api/v3.0``."""

from werk.api.aas.app import PREFIX, PROFILES, AasApi, AasMount, create_aas_app
from werk.api.aas.live import SIGNAL_QUALIFIER

__all__ = ["PREFIX", "PROFILES", "SIGNAL_QUALIFIER", "AasApi", "AasMount", "create_aas_app"]
