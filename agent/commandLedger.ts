/**
 * What a room's agent remembers of the commands it was sent: which request_ids it has taken
 * (receipts, so the bridge stops sending a packet again), which it has applied and with what
 * confirmation (so a repeat is answered, not applied twice), and the last confirmations, which the
 * bridge reads to give the app its `done` reply. Pure bookkeeping: no LiveKit, no timers.
 */
import { RECEIVED_KEPT, RESULTS_KEPT, RESULTS_MAX_BYTES, type Confirmation } from '../src/protocol/messages.js';

/** How many applied request_ids are remembered to drop duplicates. */
export const REMEMBERED_REQUESTS = 256;

/** What to do with a command: run it, answer it again, or drop it (the same one is running). */
export type Admission = { run: true } | { run: false; earlier: Confirmation } | { run: false; running: true };

export class CommandLedger {
  private readonly applied = new Map<string, Confirmation>();
  private readonly running = new Set<string>();
  /** The last confirmations as JSON (newest last). */
  private readonly results: string[] = [];
  /** The request_ids of the last packets received (newest last). */
  private readonly received: string[] = [];

  /**
   * A request_id seen before is not applied again (MQTT QoS 1 redelivery, app retries): a finished
   * one gets its confirmation again, one still running gets nothing more. Commands without a
   * request_id always run.
   */
  admit(requestId: string | undefined): Admission {
    if (!requestId) return { run: true };
    const earlier = this.applied.get(requestId);
    if (earlier) return { run: false, earlier };
    if (this.running.has(requestId)) return { run: false, running: true };
    this.running.add(requestId);
    return { run: true };
  }

  /** Records a command's confirmation: remembered by request_id, and kept for the bridge. */
  finished(confirmation: Confirmation): void {
    const id = confirmation.request_id;
    if (id) {
      this.running.delete(id);
      this.applied.set(id, confirmation);
      if (this.applied.size > REMEMBERED_REQUESTS) this.applied.delete(this.applied.keys().next().value as string);
    }
    this.results.push(JSON.stringify(confirmation));
    if (this.results.length > RESULTS_KEPT) this.results.shift();
  }

  /** The request_ids of a packet just taken (before its commands run). */
  receivedPacket(requestIds: string[]): void {
    this.received.push(...requestIds);
    this.received.splice(0, this.received.length - RECEIVED_KEPT);
  }

  /** The newest confirmations that fit in RESULTS_MAX_BYTES, as a JSON array. */
  resultsJson(): string {
    let bytes = 2;
    let first = this.results.length;
    const size = (i: number) => Buffer.byteLength(this.results[i] as string) + 1;
    while (first > 0 && bytes + size(first - 1) <= RESULTS_MAX_BYTES) bytes += size(--first);
    return `[${this.results.slice(first).join(',')}]`;
  }

  receivedJson(): string {
    return JSON.stringify(this.received);
  }
}
