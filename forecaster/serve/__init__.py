"""The live MQTT daemon: `daemon` (the Daemon object: connect, subscribe, run, stop),
`config` (ServeConfig), `service` (parse > window > batch predict > publish), `delivery` (acknowledge a
reading only once it is safe), `state` + `journal` + `state_check` (the durable windows: snapshot,
write-ahead journal, the check at load), `mqtt_client` + `mqtt_paho` (the paho adapter, with a bounded
buffer while disconnected), `connect_errors` (why a connection fails, said once), `mqtt_settings`,
`telemetry` (metrics and health), `formats`, `topics`, `discovery` (Home Assistant), `interfaces` and
`replay` (a CSV published as readings)."""
