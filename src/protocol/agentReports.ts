/**
 * What agent host processes tell the bridges over MQTT, so that the bridges need not poll LiveKit
 * for it: per room, a report whenever the agent's state, receipts, confirmations or listeners
 * change (the same values as its participant attributes, which stay for everyone else in the
 * room); per host process, its presence, with an MQTT Last Will that says `offline` the moment
 * the broker loses it. Only the bridges read these; only agents write them (mosquitto.acl).
 */
import type { Confirmation } from './messages.js';

/** One room's agent, as it reports itself on `<base>/<room>/agent`. */
export interface AgentReport {
  /** The host process (its id on `<base>/agents/<worker>/state`). */
  worker: string;
  /** The agent's participant identity in the room. */
  identity: string;
  /** False in the last report, once the agent has left the room. */
  present: boolean;
  /** Participants of the room that are not agents. */
  listeners: number;
  state: Record<string, unknown>;
  results: Confirmation[];
  received: string[];
}

export type WorkerState = 'online' | 'draining' | 'offline';

/** A host process's presence on `<base>/agents/<worker>/state`, renewed every WORKER_HEARTBEAT_MS. */
export interface WorkerPresence {
  state: WorkerState;
  rooms?: number;
  /** The rooms this host process takes at most (AGENT_MAX_ROOMS): at `rooms` = `capacity` it is full. */
  capacity?: number;
}

export const WORKER_HEARTBEAT_MS = 10_000;
/** A worker unheard for this long is not trusted to report: its rooms are polled again. */
export const WORKER_STALE_MS = 2.5 * WORKER_HEARTBEAT_MS;

/**
 * A report as JSON, from the parts the agent already holds as JSON (its attribute values): a busy
 * room reports every 100 ms, and its confirmations are up to 40 KB.
 */
export function encodeReport(parts: { worker: string; identity: string; present: boolean; listeners: number; stateJson: string; resultsJson: string; receivedJson: string }): string {
  const head = JSON.stringify({ worker: parts.worker, identity: parts.identity, present: parts.present, listeners: parts.listeners });
  return `${head.slice(0, -1)},"state":${parts.stateJson},"results":${parts.resultsJson},"received":${parts.receivedJson}}`;
}

/** A report read back, or undefined for anything that is not one. */
export function parseReport(payload: Buffer | string): AgentReport | undefined {
  const value = parseObject(payload);
  if (!value) return undefined;
  const { worker, identity, present, listeners, state, results, received } = value;
  if (typeof worker !== 'string' || typeof identity !== 'string' || typeof present !== 'boolean' || typeof listeners !== 'number') return undefined;
  return {
    worker,
    identity,
    present,
    listeners,
    state: typeof state === 'object' && state !== null && !Array.isArray(state) ? (state as Record<string, unknown>) : {},
    results: Array.isArray(results) ? (results as Confirmation[]) : [],
    received: Array.isArray(received) ? received.filter((id): id is string => typeof id === 'string') : [],
  };
}

export function parseWorkerPresence(payload: Buffer | string): WorkerPresence | undefined {
  const value = parseObject(payload);
  const state = value?.state;
  if (state !== 'online' && state !== 'draining' && state !== 'offline') return undefined;
  return { state, ...(typeof value?.rooms === 'number' ? { rooms: value.rooms } : {}), ...(typeof value?.capacity === 'number' ? { capacity: value.capacity } : {}) };
}

function parseObject(payload: Buffer | string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString());
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
