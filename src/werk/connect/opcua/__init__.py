"""OPC UA client connector (``opc.tcp://``), browser and certificates, on asyncua.

- ``codec``: notifications into sample batches, status codes into quality, setpoints into the
  node's variant type, server types and units into the plant file's (pure, tested offline);
- ``session``: an asyncua client configured from options (security, user, timeouts);
- ``connector``: the subscription shell with reconnect, recovery and gap markers; writes;
- ``browse``: the address space as a plant-file section (``werk connect browse``);
- ``certs``: application instance certificates for Basic256Sha256 (``werk certs``).
"""
