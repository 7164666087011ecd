#!/usr/bin/env node
/**
 * `roomcast`: a command-line tool for people.
 *   roomcast send <session> <command> [options]   send a command; print replies and state changes
 *   roomcast token <room> [--identity id] [--ttl 1h] [--join-url]   a subscribe-only listener token,
 *                                                  or a LiveKit Meet link that joins with it
 *   roomcast check-catalog [catalog]              check every song is reachable and decodes
 * Settings come from the same environment variables as the bridge and the agent.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadMqttClientConfig, loadTokenConfig } from '../config.js';
import { listenerToken } from '../livekit/tokens.js';
import { buildCommand, sendCommand } from './send.js';
import { checkCatalog } from './checkCatalog.js';

const USAGE = `usage:
  roomcast send <session> <start|stop|skip|pause|resume|prompts|config> [options]
      --genre G --language L --mood M --source playlist|lyria
      --prompt "text[:weight]" (repeatable) --bpm N --density X --brightness X --scale S
      --request-id ID --json '{"extra": "fields"}' --follow SECONDS (keep printing state)
  roomcast token <room> [--identity ID] [--ttl 1h] [--join-url]
      --join-url: print a link that opens the room in LiveKit Meet with the token
  roomcast check-catalog [path-or-url]   (default: MUSIC_CATALOG)
Environment: MQTT_URL, MQTT_USERNAME, MQTT_PASSWORD, MQTT_BASE_TOPIC (send);
             LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET (token); MUSIC_CATALOG, FFMPEG_PATH (check-catalog)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      genre: { type: 'string' },
      language: { type: 'string' },
      mood: { type: 'string' },
      source: { type: 'string' },
      prompt: { type: 'string', multiple: true },
      bpm: { type: 'string' },
      density: { type: 'string' },
      brightness: { type: 'string' },
      scale: { type: 'string' },
      'request-id': { type: 'string' },
      json: { type: 'string' },
      follow: { type: 'string' },
      identity: { type: 'string' },
      ttl: { type: 'string' },
      'join-url': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [verb, ...rest] = positionals;
  if (values.help || !verb) {
    console.log(USAGE);
    return verb || values.help ? 0 : 2;
  }
  switch (verb) {
    case 'send': {
      const [session, name] = rest;
      if (!session || !name) throw new UsageError('send needs <session> and <command>');
      const command = buildCommand(name, values);
      return sendCommand(loadMqttClientConfig(), session, command, Number(values.follow ?? 0) * 1000);
    }
    case 'token': {
      const [room] = rest;
      if (!room) throw new UsageError('token needs <room>');
      const config = loadTokenConfig();
      const token = await listenerToken({ apiKey: config.apiKey, apiSecret: config.apiSecret, room, identity: values.identity, ttl: values.ttl ?? '1h' });
      console.log(values['join-url'] ? joinUrl(process.env.LISTENER_LIVEKIT_URL || config.url, token) : token);
      console.error(`LiveKit URL: ${config.url}  (subscribe-only, room "${room}", valid ${values.ttl ?? '1h'})`);
      return 0;
    }
    case 'check-catalog':
      return checkCatalog(rest[0] ?? process.env.MUSIC_CATALOG, process.env.FFMPEG_PATH);
    default:
      throw new UsageError(`unknown command "${verb}"`);
  }
}

/** LiveKit Meet's page for a custom server: anyone with the link joins as the token allows. */
function joinUrl(livekitUrl: string, token: string): string {
  const url = new URL('https://meet.livekit.io/custom');
  url.searchParams.set('liveKitUrl', livekitUrl.replace(/^http/, 'ws'));
  url.searchParams.set('token', token);
  return url.toString();
}

export class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError) console.error(`${err.message}\n\n${USAGE}`);
    else console.error(err instanceof ConfigError ? err.message : `roomcast: ${err.message}`);
    process.exit(2);
  },
);
