/**
 * The command protocol shared by the mobile app (MQTT), the bridge and the agent (data channel).
 * The payloads are the seed's format; `request_id` is optional from the app and always set by the
 * bridge before a command reaches the room.
 */
import { z } from 'zod';
import { lyriaSettingsShape, pickLyriaSettings, weightedPromptsSchema } from './lyriaSettings.js';

/** LiveKit room names double as MQTT topic levels: no wildcards, no separators. */
export const sessionIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, 'must be 1-128 characters of letters, digits, ".", "_", ":", "@" or "-"')
  // <base>/bridge/state is the bridge's availability (topics.ts).
  .refine((id) => id !== 'bridge', 'must not be "bridge" (reserved for the bridge\'s presence)');

const requestIdSchema = z.string().min(1).max(128);
const filterText = z.string().trim().min(1).max(100);

const common = {
  session_id: sessionIdSchema.optional(),
  request_id: requestIdSchema.optional(),
};

export const startCommandSchema = z.object({
  type: z.literal('start_continuous_music'),
  /** Where the music comes from: the catalog (default) or Lyria RealTime generation. */
  source: z.enum(['playlist', 'lyria']).default('playlist'),
  language: filterText.optional(),
  genre: filterText.optional(),
  /** Lyria only: words that describe the music when no prompts are given. */
  mood: filterText.optional(),
  prompts: weightedPromptsSchema.optional(),
  ...lyriaSettingsShape,
  ...common,
});

export const stopCommandSchema = z.object({ type: z.literal('stop_continuous_music'), ...common });
export const skipCommandSchema = z.object({ type: z.literal('skip_music'), ...common });
export const pauseCommandSchema = z.object({ type: z.literal('pause_music'), ...common });
export const resumeCommandSchema = z.object({ type: z.literal('resume_music'), ...common });
const songChoice = {
  song_name: filterText.optional(),
  query: filterText.optional(),
};
const needsChoice = (c: { song_name?: string; query?: string }) => c.song_name !== undefined || c.query !== undefined;
const choiceMessage = { message: 'needs "song_name" or "query"' };

export const previousCommandSchema = z.object({ type: z.literal('previous_music'), ...common });
export const playCommandSchema = z.object({ type: z.literal('play_music'), language: filterText.optional(), ...songChoice, ...common }).refine(needsChoice, choiceMessage);
export const enqueueCommandSchema = z.object({ type: z.literal('enqueue_music'), ...songChoice, ...common }).refine(needsChoice, choiceMessage);
export const setVolumeCommandSchema = z.object({ type: z.literal('set_volume'), volume: z.number().min(0).max(100), ...common });
export const statusCommandSchema = z.object({ type: z.literal('get_music_status'), ...common });

/** How the room's music makes way for speech (agent/ducking.ts); the fields not given stay as they are. */
export const duckingSettingsShape = {
  enabled: z.boolean().optional(),
  /** How far the music goes down, in dB. */
  depth_db: z.number().min(-60).max(-1).optional(),
  /** How long it takes to come back after the speech, in ms. */
  release_ms: z.number().int().min(0).max(10_000).optional(),
  /** `duck`: the music goes down; `pause`: it pauses and resumes. */
  mode: z.enum(['duck', 'pause']).optional(),
};
export const setDuckingCommandSchema = z.object({ type: z.literal('set_ducking'), ...duckingSettingsShape, ...common });

export const setPromptsCommandSchema = z.object({ type: z.literal('set_music_prompts'), prompts: weightedPromptsSchema, ...common });
export const setConfigCommandSchema = z
  .object({ type: z.literal('set_music_config'), ...lyriaSettingsShape, ...common })
  .refine((c) => Object.keys(pickLyriaSettings(c)).length > 0, { message: 'set_music_config needs at least one setting' });

export const commandSchema = z.discriminatedUnion('type', [
  startCommandSchema,
  stopCommandSchema,
  skipCommandSchema,
  pauseCommandSchema,
  resumeCommandSchema,
  setPromptsCommandSchema,
  setConfigCommandSchema,
  previousCommandSchema,
  playCommandSchema,
  enqueueCommandSchema,
  setVolumeCommandSchema,
  statusCommandSchema,
  setDuckingCommandSchema,
]);

export type Command = z.infer<typeof commandSchema>;
export type CommandType = Command['type'];
export type StartCommand = z.infer<typeof startCommandSchema>;

/** Every command type, from the schema itself (in its order). */
export const COMMAND_TYPES = commandSchema.options.map((option) => option.shape.type.value) as CommandType[];

/** The largest command payload accepted, in bytes: commands are small, anything bigger is abuse. */
export const MAX_COMMAND_BYTES = 4096;

export type ParseResult = { ok: true; command: Command } | { ok: false; reason: string; type?: string; requestId?: string };

/** Parses and validates a raw payload; never throws. */
export function parseCommand(payload: Uint8Array | string): ParseResult {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > MAX_COMMAND_BYTES) return { ok: false, reason: `payload is ${size} bytes, the limit is ${MAX_COMMAND_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload is not valid JSON' };
  }
  return validateCommand(json);
}

/**
 * Parses a data packet from the bridge: one command, or a JSON array of commands that were queued
 * together (each validated on its own, up to `maxBytes` in all). Never throws.
 */
export function parseCommandPacket(payload: Uint8Array, maxBytes: number): ParseResult[] {
  if (payload.byteLength > maxBytes) return [{ ok: false, reason: `packet is ${payload.byteLength} bytes, the limit is ${maxBytes}` }];
  if (payload[0] !== 0x5b /* [ */) return [parseCommand(payload)];
  try {
    const json: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
    return Array.isArray(json) ? json.map(validateCommand) : [validateCommand(json)];
  } catch {
    return [{ ok: false, reason: 'payload is not valid JSON' }];
  }
}

function validateCommand(json: unknown): ParseResult {
  const echo = echoFields(json);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'payload must be a JSON object', ...echo };
  }
  const result = commandSchema.safeParse(json);
  if (result.success) return { ok: true, command: result.data };
  return { ok: false, reason: describeIssues(result.error, json), ...echo };
}

/**
 * The type and request_id of a payload, for a reply that refuses it unread (rate limited): only
 * JSON parsing, no validation. Never throws.
 */
export function peekCommand(payload: Uint8Array): { type?: string; requestId?: string } {
  if (payload.byteLength > MAX_COMMAND_BYTES) return {};
  try {
    return echoFields(JSON.parse(Buffer.from(payload).toString('utf8')));
  } catch {
    return {};
  }
}

function echoFields(json: unknown): { type?: string; requestId?: string } {
  if (typeof json !== 'object' || json === null) return {};
  const { type, request_id } = json as Record<string, unknown>;
  return {
    ...(typeof type === 'string' && type.length <= 64 ? { type } : {}),
    ...(typeof request_id === 'string' && requestIdSchema.safeParse(request_id).success ? { requestId: request_id } : {}),
  };
}

function describeIssues(error: z.ZodError, json: object): string {
  const type = (json as { type?: unknown }).type;
  const issue = error.issues[0];
  if (!issue) return 'invalid command';
  if (issue.path[0] === 'type' && issue.code !== 'custom') {
    return typeof type === 'string'
      ? `unknown command type "${type.slice(0, 64)}"; expected one of ${COMMAND_TYPES.join(', ')}`
      : `field "type" is required; expected one of ${COMMAND_TYPES.join(', ')}`;
  }
  return error.issues.map((i) => `field "${i.path.join('.')}" ${i.message}`).join('; ');
}
