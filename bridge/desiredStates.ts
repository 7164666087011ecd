/**
 * What each room should play, as this replica knows it: every state-changing command updates the
 * room's desired state (protocol/desired.ts), which is retained on the broker before the command
 * is delivered, so that any replica (a restarted one too) can restore a room that lost its music.
 * Owns this replica's copy of every room's desired state; nothing else.
 */
import type { Logger } from '../src/log.js';
import type { Command, StartCommand } from '../src/protocol/commands.js';
import { nextDesired, type DesiredState } from '../src/protocol/desired.js';

/** A desired state older than this is no longer restored. */
const DESIRED_MAX_AGE_MS = 24 * 3600 * 1000;

export class DesiredStates {
  private readonly states = new Map<string, DesiredState>();

  constructor(
    /** Retains a room's desired state on the broker. */
    private readonly retain: (room: string, json: string) => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  /** The room's desired state after `command` (kept here, saved by `save`), or undefined when the command does not change it. */
  apply(room: string, command: Command & { request_id: string }): DesiredState | undefined {
    const desired = nextDesired(this.states.get(room), command);
    if (desired) this.states.set(room, desired);
    return desired;
  }

  /** Retained on the broker before the command is delivered: it survives every other part. */
  async save(room: string, desired: DesiredState): Promise<void> {
    await this.retain(room, JSON.stringify(desired)).catch((err: Error) => this.log.warn({ session_id: room, err: err.message }, 'could not save the desired state'));
  }

  /**
   * A retained desired state heard from the broker: another replica's, or our own coming back (an
   * older one than this replica holds by then is ignored). True when it changed what is kept.
   */
  heard(room: string, payload: Buffer): boolean {
    let desired: DesiredState;
    try {
      desired = JSON.parse(payload.toString()) as DesiredState;
    } catch {
      this.log.warn({ session_id: room }, 'ignored a malformed desired state');
      return false;
    }
    if (typeof desired?.playing !== 'boolean' || typeof desired.updated_at !== 'number') return false;
    if ((this.states.get(room)?.updated_at ?? -Infinity) > desired.updated_at) return false;
    this.states.set(room, desired);
    return true;
  }

  /** The start command the room should be playing, if any. */
  shouldPlay(room: string, now = Date.now()): StartCommand | undefined {
    const desired = this.states.get(room);
    if (!desired?.playing || !desired.start?.request_id || now - desired.updated_at > DESIRED_MAX_AGE_MS) return undefined;
    return desired.start;
  }

  rooms(): IterableIterator<string> {
    return this.states.keys();
  }
}
