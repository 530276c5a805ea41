"""Sparkplug B (``spb://``): werk as a Sparkplug 3.0 primary host application over MQTT.

- ``sparkplug_b.proto`` / ``sparkplug_b_pb2``: the official Eclipse Tahu schema and its
  generated module (payloads are never parsed by hand);
- ``codec``: topics, payloads, STATE, and the hot path from DATA payloads to sample columns
  (pure, tested offline and against pysparkplug);
- ``host``: the primary host's state machine — births, aliases, sequence numbers, bdSeq,
  deaths, rebirth requests (pure);
- ``connector``: :class:`~werk.connect.sparkplug.connector.SparkplugConnector`, the shell on
  :class:`~werk.connect.mqtt.MqttSession` that publishes STATE and delivers to the outlet;
- ``browse``: births as a plant-file section (``werk connect browse spb://...``).

See docs/connectivity/sparkplug.md for the options and what is marked how.
"""
