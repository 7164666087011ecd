/**
 * Coalesces a participant's attribute updates. Each update goes through LiveKit's signalling and
 * is broadcast to the room, and the bridge reads a busy room only every BRIDGE_READ_INTERVAL_MS:
 * so the first change after a quiet spell goes out within `delayMs` (a lone command is confirmed
 * at once), and during a burst the latest values go out at most once per `intervalMs`.
 */
export class AttributeUpdates<Key extends string> {
  private readonly dirty = new Set<Key>();
  private timer: NodeJS.Timeout | undefined;
  private lastAt = -Infinity;
  private stopped = false;

  constructor(
    /** Publishes the current values of `keys`. */
    private readonly publish: (keys: Key[]) => Promise<void>,
    private readonly delayMs: number,
    private readonly intervalMs: number,
  ) {}

  /** Marks `key` changed; its value is read when the update goes out. */
  changed(key: Key): void {
    if (this.stopped) return;
    this.dirty.add(key);
    if (this.timer) return;
    const wait = Math.max(this.delayMs, this.lastAt + this.intervalMs - performance.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** The participant is leaving: what is pending is dropped, and later changes go nowhere. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    this.lastAt = performance.now();
    const keys = [...this.dirty];
    this.dirty.clear();
    void this.publish(keys);
  }
}
