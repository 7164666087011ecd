import { describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig, loadBridgeConfig } from '../../src/config.js';

const livekit = { LIVEKIT_URL: 'ws://localhost:7880', LIVEKIT_API_KEY: 'key', LIVEKIT_API_SECRET: 'a-very-secret-value' };

describe('config', () => {
  it('loads the bridge with defaults', () => {
    const c = loadBridgeConfig({ ...livekit, MQTT_URL: 'mqtt://localhost:1883' });
    expect(c.mqtt.baseTopic).toBe('roomcast');
    expect(c.livekit.agentName).toBe('roomcast');
    expect(c.log.level).toBe('info');
  });

  it('names every missing variable at once, with a hint', () => {
    try {
      loadAgentConfig({});
      expect.fail('should throw');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      for (const name of ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'MUSIC_CATALOG']) expect(message).toContain(name);
      expect(message).toContain('.env.example');
    }
  });

  it('shows a bad value, but never a secret', () => {
    const err = (() => {
      try {
        loadBridgeConfig({ ...livekit, LIVEKIT_URL: 'localhost', MQTT_URL: 'mqtt://x', AGENT_JOIN_TIMEOUT_MS: 'soon' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/LIVEKIT_URL must be a ws:\/\/.*\(got "localhost"\)/);
    expect(err?.message).toMatch(/AGENT_JOIN_TIMEOUT_MS/);
    expect(err?.message).not.toContain('a-very-secret-value');
  });

  it('treats empty variables as unset and strips a trailing slash from the base topic', () => {
    const c = loadBridgeConfig({ ...livekit, MQTT_URL: 'mqtt://x', MQTT_USERNAME: '', MQTT_BASE_TOPIC: 'acme/roomcast/' });
    expect(c.mqtt.username).toBeUndefined();
    expect(c.mqtt.baseTopic).toBe('acme/roomcast');
  });

  it('refuses wildcards in the base topic', () => {
    expect(() => loadBridgeConfig({ ...livekit, MQTT_URL: 'mqtt://x', MQTT_BASE_TOPIC: 'a/+' })).toThrow(/MQTT_BASE_TOPIC/);
  });

  it('turns Home Assistant discovery on for the listed rooms, and refuses a room that is not a session id', () => {
    expect(loadBridgeConfig({ ...livekit, MQTT_URL: 'mqtt://x' }).homeAssistant).toBeUndefined();
    expect(loadBridgeConfig({ ...livekit, MQTT_URL: 'mqtt://x', HA_DISCOVERY_ROOMS: ' kitchen, kids ,' }).homeAssistant).toEqual({ rooms: ['kitchen', 'kids'], prefix: 'homeassistant' });
    expect(() => loadBridgeConfig({ ...livekit, MQTT_URL: 'mqtt://x', HA_DISCOVERY_ROOMS: 'kitchen,living room' })).toThrow(/HA_DISCOVERY_ROOMS must be session ids/);
    expect(() => loadBridgeConfig({ ...livekit, MQTT_URL: 'mqtt://x', HA_DISCOVERY_ROOMS: 'kitchen', HA_DISCOVERY_PREFIX: 'ha/#' })).toThrow(/HA_DISCOVERY_PREFIX/);
  });
});
