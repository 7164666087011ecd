/**
 * A real Home Assistant (the `homeassistant` PyPI package that scripts/provision.sh --tests puts
 * in .roomcast/havenv) for the end-to-end suite: its MQTT integration set up as the UI would have
 * stored it (a config entry pointing at the test broker, discovery on), `mqtt_statestream` to
 * publish every entity's state back over MQTT (what the test reads), and one automation that
 * calls any service named in a message on `hatest/call` (how the test presses buttons, turns
 * switches and sets numbers, as a user in Home Assistant's UI does).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProcess, type Proc } from './processes.js';

/** Python with Home Assistant installed (scripts/provision.sh --tests makes it). */
export const HA_PYTHON = process.env.HA_PYTHON ?? '.roomcast/havenv/bin/python';
export const HA_STATE_BASE = 'hastate';
export const HA_CALL_TOPIC = 'hatest/call';

const configuration = (httpPort: number) => `
http:
  server_host: 127.0.0.1
  server_port: ${httpPort}
homeassistant:
  name: Roomcast test
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: FR
logger:
  default: warning
  logs:
    homeassistant.bootstrap: info
    homeassistant.components.mqtt: info
mqtt_statestream:
  base_topic: ${HA_STATE_BASE}
  include:
    domains: [switch, button, number, select, sensor]
automation:
  - id: roomcast_test_call
    alias: Call a service for the test
    mode: queued
    trigger:
      - platform: mqtt
        topic: ${HA_CALL_TOPIC}
    action:
      - service: "{{ trigger.payload_json.service }}"
        target:
          entity_id: "{{ trigger.payload_json.entity_id }}"
        data: "{{ trigger.payload_json.data | default({}) }}"
`;

export async function startHomeAssistant(broker: { host: string; port: number }): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-ha-'));
  mkdirSync(join(dir, '.storage'));
  // Its web server (a dependency of its MQTT integration) on a port of its own.
  writeFileSync(join(dir, 'configuration.yaml'), configuration(await freePort('127.0.0.1')));
  const entry = {
    entry_id: 'roomcasttestmqtt0000000000000000',
    version: 1,
    minor_version: 1,
    domain: 'mqtt',
    title: broker.host,
    data: { broker: broker.host, port: broker.port, discovery: true, discovery_prefix: 'homeassistant' },
    options: {},
    pref_disable_new_entities: false,
    pref_disable_polling: false,
    source: 'user',
    unique_id: null,
    disabled_by: null,
  };
  writeFileSync(join(dir, '.storage', 'core.config_entries'), JSON.stringify({ version: 1, minor_version: 1, key: 'core.config_entries', data: { entries: [entry] } }));
  // Everything it needs is installed: it must not reach for PyPI.
  return startProcess('homeassistant', HA_PYTHON, ['-m', 'homeassistant', '--config', dir, '--skip-pip', '--log-no-color']);
}
