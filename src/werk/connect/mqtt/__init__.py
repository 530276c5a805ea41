"""Plain MQTT with JSON payloads (``mqtt://``), and the MQTT session Sparkplug B shares.

- ``packets``: MQTT 3.1.1 and 5 packets as bytes (werk's own: paho was too slow on the hot path).
- ``session``: :class:`MqttSession`, the client on the event loop: persistent session, reconnects,
  messages handed over in batches, QoS 1 acknowledged only after commit.
- ``mapping``: the pure codec — topic routes and plant-file bindings turned into one
  :class:`~werk.core.SampleBatch` per list of messages, bad input counted.
- ``connector``: :class:`MqttConnector`, the thin shell joining the two to an outlet.

Only the session is imported here: it has no heavy imports until it connects.
"""

from werk.connect.mqtt.packets import Received
from werk.connect.mqtt.session import BrokerAddress, MqttSession

__all__ = ["BrokerAddress", "MqttSession", "Received"]
