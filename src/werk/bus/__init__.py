"""Buses between werk processes. The in-process bus lives in ``werk.core.bus``.

``nats://`` (NATS JetStream) is opened through ``werk.core.buses`` and imported only then, so
werk runs without nats-py installed until a ``nats://`` URL is used.
"""
