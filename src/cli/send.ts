/** `roomcast send`: publish one command like an app would, and print what comes back. */
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { loadMqttClientConfig } from '../config.js';
import { parseCommand } from '../protocol/commands.js';
import type { Reply } from '../protocol/messages.js';
import { Topics } from '../protocol/topics.js';

const COMMAND_NAMES: Record<string, string> = {
  start: 'start_continuous_music',
  stop: 'stop_continuous_music',
  skip: 'skip_music',
  pause: 'pause_music',
  resume: 'resume_music',
  prompts: 'set_music_prompts',
  config: 'set_music_config',
};

const NUMBERS = ['bpm', 'density', 'brightness'] as const;

/** Turns CLI options into a command payload, validated with the protocol's own schema. */
export function buildCommand(name: string, options: Record<string, string | string[] | boolean | undefined>): Record<string, unknown> {
  const type = COMMAND_NAMES[name] ?? name;
  const command: Record<string, unknown> = { type };
  for (const key of ['genre', 'language', 'mood', 'source', 'scale'] as const) if (typeof options[key] === 'string') command[key] = options[key];
  for (const key of NUMBERS) if (typeof options[key] === 'string') command[key] = Number(options[key]);
  if (Array.isArray(options.prompt)) {
    command.prompts = options.prompt.map((p) => {
      const match = /^(.*?)(?::(\d+(?:\.\d+)?))?$/.exec(p) as RegExpExecArray;
      return { text: match[1], weight: match[2] ? Number(match[2]) : 1 };
    });
  }
  if (typeof options['request-id'] === 'string') command.request_id = options['request-id'];
  if (typeof options.json === 'string') Object.assign(command, JSON.parse(options.json) as object);
  const parsed = parseCommand(JSON.stringify(command));
  if (!parsed.ok) throw new Error(`invalid command: ${parsed.reason}`);
  return command;
}

/** Sends, prints every reply and state change as it comes, and returns the exit code. */
export async function sendCommand(config: ReturnType<typeof loadMqttClientConfig>, session: string, command: Record<string, unknown>, followMs: number): Promise<number> {
  const topics = new Topics(config.baseTopic);
  const client = await mqtt.connectAsync(config.url, { protocolVersion: 5, username: config.username, password: config.password, reconnectPeriod: 0 });
  // The session's reply topic carries every reply (`accepted`, then the final one); a request_id
  // tells this command's apart.
  const requestId = typeof command.request_id === 'string' ? command.request_id : randomUUID();
  const body = { ...command, request_id: requestId };
  let final: Reply | undefined;
  const finished = new Promise<void>((resolve) => {
    client.on('message', (topic, payload) => {
      const message = JSON.parse(payload.toString()) as Record<string, unknown>;
      if (topic === topics.state(session)) console.log(`state  ${JSON.stringify(message)}`);
      if (topic !== topics.reply(session) || message.request_id !== requestId) return;
      const reply = message as unknown as Reply;
      console.log(`reply  ${reply.status.padEnd(8)} ${reply.message}${reply.result ? `\n       ${JSON.stringify(reply.result)}` : ''}`);
      if (reply.status !== 'accepted') {
        final = reply;
        resolve();
      }
    });
  });
  await client.subscribeAsync([topics.reply(session), topics.state(session)], { qos: 1 });
  await client.publishAsync(topics.command(session), JSON.stringify(body), { qos: 1 });
  console.log(`sent   ${JSON.stringify(body)} to ${topics.command(session)}`);
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 60_000).unref());
  await Promise.race([finished, timeout]);
  if (followMs > 0) await new Promise((r) => setTimeout(r, followMs));
  await client.endAsync();
  if (!final) {
    console.error('no final reply within 60 s: is the bridge running?');
    return 1;
  }
  return (final as Reply).ok ? 0 : 1;
}
