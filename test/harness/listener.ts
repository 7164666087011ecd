/**
 * A real LiveKit listener (rtc-node): joins a room, subscribes to the `music` track, and turns
 * what it hears into a timeline of analysis windows (time, dominant frequency, loudness). It also
 * keeps every data packet that arrives on `music_control`.
 */
import { EventEmitter } from 'node:events';
import { AccessToken } from 'livekit-server-sdk';
import { AudioStream, Room, RoomEvent, TrackKind, type RemoteTrack } from '@livekit/rtc-node';
import { MUSIC_CONTROL_TOPIC, STATE_ATTRIBUTE } from '../../src/protocol/messages.js';
import { dominantFrequency, rms, WINDOW } from './spectrum.js';

export interface HeardWindow {
  /** Date.now() when the window's last frame arrived. */
  at: number;
  /** Date.now() when the first frame of the window arrived. */
  firstFrameAt: number;
  frequency: number;
  level: number;
  /** Dominant frequency of the left and right channel alone. */
  left: number;
  right: number;
}

export interface ControlMessage {
  at: number;
  from: string;
  body: Record<string, unknown>;
}

const SILENCE = 0.01;
const SAMPLE_RATE = 48_000;

export class Listener extends EventEmitter {
  readonly windows: HeardWindow[] = [];
  readonly messages: ControlMessage[] = [];
  /** Channel count of the frames the listener receives (what a 2-channel publish arrives as). */
  channels = 0;
  /** LiveKit's active speaker updates as this listener got them. */
  readonly speakerUpdates: Array<{ at: number; identities: string[] }> = [];
  /** Date.now() when the server removed this participant (or the connection ended), if it did. */
  disconnectedAt: number | undefined;
  private readonly room = new Room();
  /** Date.now() of each frame that brought sound after silence (or after audio stopped flowing). */
  readonly onsets: number[] = [];
  private readonly mono = new Int16Array(WINDOW);
  private readonly leftChannel = new Int16Array(WINDOW);
  private readonly rightChannel = new Int16Array(WINDOW);
  private filled = 0;
  private windowStart = 0;
  private lastSoundAt = 0;
  /** Every mono sample heard, with the arrival time of its frame, while `recording` is on. */
  readonly recorded: Array<{ at: number; samples: Int16Array }> = [];
  recording = false;

  static async join(
    url: string,
    apiKey: string,
    apiSecret: string,
    roomName: string,
    {
      identity = `listener-${Math.random().toString(36).slice(2, 8)}`,
      canPublishData = false,
      attributes = {} as Record<string, string>,
      /** The track to hear (the bench's stock agent publishes "background_audio"). */
      trackName = 'music',
    } = {},
  ): Promise<Listener> {
    const token = new AccessToken(apiKey, apiSecret, { identity, ttl: '10m', attributes });
    token.addGrant({ room: roomName, roomJoin: true, canSubscribe: true, canPublish: false, canPublishData });
    const listener = new Listener();
    await listener.connect(url, await token.toJwt(), trackName);
    return listener;
  }

  private async connect(url: string, jwt: string, trackName: string): Promise<void> {
    this.room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
      if (track.kind === TrackKind.KIND_AUDIO && track.name === trackName) void this.consume(track);
    });
    this.room.on(RoomEvent.DataReceived, (payload, participant, _kind, topic) => {
      if (topic !== MUSIC_CONTROL_TOPIC) return;
      const body = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
      this.messages.push({ at: Date.now(), from: participant?.identity ?? 'server', body });
      this.emit('message');
    });
    this.room.on(RoomEvent.Disconnected, () => (this.disconnectedAt = Date.now()));
    this.room.on(RoomEvent.ActiveSpeakersChanged, (speakers) => this.speakerUpdates.push({ at: Date.now(), identities: speakers.map((p) => p.identity) }));
    await this.room.connect(url, jwt, { autoSubscribe: true, dynacast: false });
  }

  private async consume(track: RemoteTrack): Promise<void> {
    const stream = new AudioStream(track, { sampleRate: SAMPLE_RATE, numChannels: 2 });
    const reader = stream.getReader();
    for (;;) {
      const { value: frame, done } = await reader.read();
      if (done) return;
      this.channels = frame.channels;
      const now = Date.now();
      this.trackOnset(rms(frame.data) > SILENCE, now);
      const right = frame.channels > 1 ? 1 : 0;
      if (this.recording) {
        const mono = new Int16Array(frame.samplesPerChannel);
        for (let i = 0; i < mono.length; i++) mono[i] = ((frame.data[i * frame.channels] as number) + (frame.data[i * frame.channels + right] as number)) / 2;
        this.recorded.push({ at: now, samples: mono });
      }
      for (let i = 0; i < frame.samplesPerChannel; i++) {
        const l = frame.data[i * frame.channels] as number;
        const r = frame.data[i * frame.channels + right] as number;
        if (this.filled === 0) this.windowStart = now;
        this.leftChannel[this.filled] = l;
        this.rightChannel[this.filled] = r;
        this.mono[this.filled++] = (l + r) / 2;
        if (this.filled === WINDOW) this.analyse(now);
      }
    }
  }

  private trackOnset(sound: boolean, now: number): void {
    if (sound && now - this.lastSoundAt > 60) this.onsets.push(now);
    if (sound) this.lastSoundAt = now;
  }

  /** The first onset at or after `since`. */
  onsetAfter(since: number): number | undefined {
    return this.onsets.find((t) => t >= since);
  }

  private analyse(now: number): void {
    const level = rms(this.mono);
    const frequencyOf = (samples: Int16Array) => (level > SILENCE ? dominantFrequency(samples, SAMPLE_RATE) : 0);
    this.windows.push({
      at: now,
      firstFrameAt: this.windowStart,
      frequency: frequencyOf(this.mono),
      level,
      left: frequencyOf(this.leftChannel),
      right: frequencyOf(this.rightChannel),
    });
    this.filled = 0;
    this.emit('window');
  }

  /** Resolves with the first window at or after `since` that satisfies `predicate`. */
  waitForWindow(predicate: (w: HeardWindow) => boolean, { since = 0, timeoutMs = 15_000, what = 'a matching window' } = {}): Promise<HeardWindow> {
    return this.waitFor('window', () => this.windows.find((w) => w.at >= since && predicate(w)), timeoutMs, what);
  }

  /** Resolves once `count` consecutive windows after `since` are the tone `frequency` (±3%). */
  async waitForTone(frequency: number, opts: { since?: number; timeoutMs?: number; count?: number } = {}): Promise<HeardWindow> {
    const count = opts.count ?? 3;
    return this.waitFor(
      'window',
      () => {
        const recent = this.windows.filter((w) => w.at >= (opts.since ?? 0));
        for (let i = 0; i + count <= recent.length; i++) {
          if (recent.slice(i, i + count).every((w) => isTone(w, frequency))) return recent[i];
        }
        return undefined;
      },
      opts.timeoutMs ?? 15_000,
      `the ${frequency} Hz tone (heard: ${this.describeRecent()})`,
    );
  }

  /** Resolves once `count` consecutive windows after `since` are silent (or no audio flows). */
  async waitForSilence(opts: { since?: number; timeoutMs?: number; count?: number } = {}): Promise<void> {
    const count = opts.count ?? 5;
    const since = opts.since ?? 0;
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      const recent = this.windows.filter((w) => w.at >= since);
      const tail = recent.slice(-count);
      if (tail.length === count && tail.every((w) => w.level <= SILENCE)) return;
      // A muted source may deliver no frames at all: a second with no window is silence too.
      const last = this.windows.at(-1);
      if (last && Date.now() - last.at > 1_000 && Date.now() - since > 1_000) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`still hearing sound: ${this.describeRecent()}`);
  }

  /** Resolves with the first control message after `since` that satisfies `predicate`. */
  waitForMessage(predicate: (body: Record<string, unknown>) => boolean, { since = 0, timeoutMs = 15_000 } = {}): Promise<ControlMessage> {
    return this.waitFor('message', () => this.messages.find((m) => m.at >= since && predicate(m.body)), timeoutMs, 'a music_control message');
  }

  private waitFor<T>(event: string, find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found === undefined) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : ''} ${event === 'window' ? this.describeRecent() : ''}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off(event, check);
      };
      this.on(event, check);
      check();
    });
  }

  /** The music state the agent publishes as its `roomcast.state` attribute. */
  agentState(): Record<string, unknown> | undefined {
    for (const p of this.room.remoteParticipants.values()) {
      const state = p.attributes[STATE_ATTRIBUTE];
      if (state) return JSON.parse(state) as Record<string, unknown>;
    }
    return undefined;
  }

  async waitForAgentState(predicate: (state: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = this.agentState();
      if (state && predicate(state)) return state;
      if (Date.now() > deadline) throw new Error(`agent state never matched; last: ${JSON.stringify(state)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  describeRecent(n = 8): string {
    return (
      this.windows
        .slice(-n)
        .map((w) => (w.level <= SILENCE ? 'silence' : `${Math.round(w.frequency)}Hz@${w.level.toFixed(2)}`))
        .join(', ') || 'nothing'
    );
  }

  /** Publishes a message on `music_control` as this participant (needs canPublishData). */
  async sendControl(message: object): Promise<void> {
    await this.room.localParticipant?.publishData(new TextEncoder().encode(JSON.stringify(message)), { reliable: true, topic: MUSIC_CONTROL_TOPIC });
  }

  async leave(): Promise<void> {
    await this.room.disconnect();
  }
}

export function isTone(w: HeardWindow, frequency: number): boolean {
  return w.level > SILENCE && Math.abs(w.frequency - frequency) <= frequency * 0.03;
}
