"""The socket ``werk serve`` listens on: TCP, so asyncio turns Nagle off on every connection."""

from __future__ import annotations

import socket

from werk.app import _bind


def test_listener_says_it_is_tcp():
    # asyncio sets TCP_NODELAY only where sock.proto is IPPROTO_TCP; with proto 0 every
    # keep-alive response waited ~40 ms for the client's delayed ACK.
    listener = _bind("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP
    finally:
        listener.close()
