"""Plain MQTT with JSON payloads (``mqtt://``), and the MQTT session Sparkplug B shares.

- ``session``: :class:`MqttSession`, a paho-mqtt client on its own thread, persistent session,
  messages handed to asyncio in batches, QoS 1 acknowledged only after commit.
- ``mapping``: the pure codec — topic routes and plant-file bindings turned into one
  :class:`~werk.core.SampleBatch` per list of messages, bad input counted.
- ``connector``: :class:`MqttConnector`, the thin shell joining the two to an outlet.

Only the session is imported here: it has no heavy imports until it connects.
"""

from werk.connect.mqtt.session import BrokerAddress, MqttSession, Received

__all__ = ["BrokerAddress", "MqttSession", "Received"]
