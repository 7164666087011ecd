/**
 * Which bridge replica handles which room. Every replica hears every command and handles those of
 * the rooms it owns: the owner of a room is the live replica with the highest rendezvous hash of
 * (replica, room). One owner per room keeps a room's commands in the order the broker received
 * them, which a shared subscription cannot do on Mosquitto: it hands consecutive commands of a
 * room to different replicas, and the later one can overtake the earlier.
 *
 * Replicas know each other from their retained presence messages, renewed every heartbeat; a
 * replica that said `offline` (its Last Will, or a clean stop) or went unheard for `staleMs` is
 * out. When a replica goes, its rooms move to the others (see Bridge.takeOver).
 */
import { createHash } from 'node:crypto';

export class Replicas {
  /** Peer id → when it last said it was online (this process's clock). */
  private readonly peers = new Map<string, number>();

  constructor(
    readonly self: string,
    private readonly staleMs: number,
  ) {}

  /** Records a presence message; true when the set of live replicas changed. */
  heard(id: string, online: boolean, now = Date.now()): boolean {
    if (id === this.self) return false;
    const known = this.peers.has(id);
    if (online) this.peers.set(id, now);
    else this.peers.delete(id);
    return known !== online;
  }

  /** Forgets peers unheard for staleMs; true when any went. */
  sweep(now = Date.now()): boolean {
    let changed = false;
    for (const [id, at] of this.peers) {
      if (now - at > this.staleMs) changed = this.peers.delete(id) || changed;
    }
    return changed;
  }

  live(): string[] {
    return [this.self, ...this.peers.keys()].sort();
  }

  owner(room: string): string {
    let best = this.self;
    let bestScore = -1n;
    for (const id of this.live()) {
      const score = createHash('sha1').update(id).update('\0').update(room).digest().readBigUInt64BE(0);
      if (score > bestScore) [best, bestScore] = [id, score];
    }
    return best;
  }

  owns(room: string): boolean {
    return this.owner(room) === this.self;
  }
}
