/** The bridge's MQTT errors: a warning while the connection should be up, debug once the bridge ends it. */
import { describe, expect, it } from 'vitest';
import { logMqttError } from '../../bridge/bridge.js';
import { recordedLog } from './recordedLog.js';

describe('logMqttError', () => {
  it('warns of an error on a connection the bridge keeps up', () => {
    const { log, lines } = recordedLog();
    logMqttError(log, { disconnecting: false }, new Error('connack timeout'));
    expect(lines).toMatchObject([{ level: 'warn', msg: 'mqtt error', err: 'connack timeout' }]);
  });

  it('logs at debug the acknowledgement that finds the socket closed after the bridge ended the connection', () => {
    const { log, lines } = recordedLog();
    logMqttError(log, { disconnecting: true }, new Error('write after end'));
    expect(lines).toMatchObject([{ level: 'debug', msg: 'mqtt error', err: 'write after end' }]);
  });
});
