"""Modbus TCP connector (``modbus+tcp://``) on pymodbus.

- ``codec``: addresses, data types, word and byte order, scaling, read planning, decoding and
  encoding (pure, tested offline);
- ``connector``: polls each unit on its own connection, so one silent device marks only its
  own signals BAD; writes coils and holding registers.
"""
