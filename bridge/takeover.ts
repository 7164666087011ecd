/**
 * The commands this replica heard for rooms another replica owns, kept for a few seconds: when
 * that replica dies before delivering them, the new owner replays them in order. Owns that
 * short history; nothing else. Only commands with the app's request_id are replayed, because the
 * agent applies a request_id once whoever delivers it.
 */
import type { IPublishPacket } from 'mqtt';
import { parseCommand } from '../src/protocol/commands.js';

export interface HeardCommand {
  at: number;
  payload: Buffer;
  packet: IPublishPacket | undefined;
}

/** Commands of rooms owned by another replica are kept this long, to replay if it dies. */
export const TAKEOVER_WINDOW_MS = 10_000;
const TAKEOVER_MAX_PER_ROOM = 64;

export class Takeover {
  /** Per room, oldest first. */
  private readonly heard = new Map<string, HeardCommand[]>();

  constructor(private readonly now: () => number = Date.now) {}

  keep(room: string, command: Omit<HeardCommand, 'at'>): void {
    const heard = this.heard.get(room) ?? [];
    heard.push({ at: this.now(), ...command });
    if (heard.length > TAKEOVER_MAX_PER_ROOM) heard.shift();
    this.heard.set(room, heard);
  }

  /** The rooms this replica now owns, each with the recent commands to replay in order (forgotten here). */
  takeOver(owns: (room: string) => boolean): Array<[room: string, replay: HeardCommand[]]> {
    const taken: Array<[string, HeardCommand[]]> = [];
    const oldest = this.now() - TAKEOVER_WINDOW_MS;
    for (const [room, heard] of this.heard) {
      if (!owns(room)) continue;
      this.heard.delete(room);
      taken.push([room, heard.filter((c) => c.at >= oldest && hasRequestId(c.payload))]);
    }
    return taken;
  }

  forgetOld(): void {
    const oldest = this.now() - TAKEOVER_WINDOW_MS;
    for (const [room, heard] of this.heard) {
      while (heard.length > 0 && (heard[0] as HeardCommand).at < oldest) heard.shift();
      if (heard.length === 0) this.heard.delete(room);
    }
  }
}

function hasRequestId(payload: Buffer): boolean {
  const parsed = parseCommand(payload);
  return parsed.ok && parsed.command.request_id !== undefined;
}
