"""The live MQTT daemon: `daemon` (the Daemon object: connect, subscribe, run, stop),
`config` (ServeConfig), `service` (parse > window > batch predict > publish), `state` (the durable window file),
`mqtt_client` (the one paho adapter, with a bounded buffer while disconnected), `mqtt_settings`, `telemetry` (metrics and health) and `replay`
(a CSV published as readings)."""
