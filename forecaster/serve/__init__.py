"""The live MQTT daemon: `daemon` (the Daemon object: connect, subscribe, run, stop),
`config` (ServeConfig), `service` (parse > window > batch predict > publish), `state` (the durable window file),
`mqtt_client` (the one paho adapter), `telemetry` (metrics and health) and `replay`
(a CSV published as readings)."""
