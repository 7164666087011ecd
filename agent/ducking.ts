/**
 * When a room's music makes way for speech: owns who is speaking in the room, the hold after
 * speech, and the room's ducking settings (`set_ducking`, defaults from the environment). Speech is
 * a voice agent whose `lk.agent.state` attribute is `speaking` (LiveKit's agent convention), or a
 * participant LiveKit reports as an active speaker (the SFU's audio levels: no audio is subscribed
 * to; a participant with `lk.agent.state` counts by that state only, which is sooner and does not
 * lag; a person whose audio the agent hears is judged by it, agent/voiceMeter.ts). Roomcast's own agents and other music agents never count; listeners never speak. The music
 * goes down (`duck`, playout/duck.ts) or pauses (`pause`) while anyone speaks, and comes back
 * `holdMs` after an active speaker stops (LiveKit's speaker list flickers between words; a voice
 * agent's state does not, so it releases at once).
 */
import type { duckingSettingsShape } from '../src/protocol/commands.js';
import type { z } from 'zod';

export interface DuckingSettings {
  enabled: boolean;
  mode: 'duck' | 'pause';
  depthDb: number;
  attackMs: number;
  holdMs: number;
  releaseMs: number;
}

export type DuckingChange = { [K in keyof typeof duckingSettingsShape]?: z.infer<(typeof duckingSettingsShape)[K]> };

/** What ducking acts on: the music's level, or its playback. */
export interface DuckingOutput {
  duck(on: boolean): void;
  /** Pauses the music if it plays; true when it did (then `resume` brings it back). */
  pause(): Promise<boolean>;
  resume(): Promise<void>;
  /** Ducking started or ended, or its settings changed (the room's state shows it). */
  changed(): void;
}

/** The voice agent attribute of LiveKit's agents and the value that means it talks. */
export const AGENT_STATE_ATTRIBUTE = 'lk.agent.state';

export class Ducking {
  private readonly agentsSpeaking = new Set<string>();
  /** LiveKit's active speakers, and the people the agent hears talking itself. */
  private listedSpeaking = new Set<string>();
  private readonly heardSpeaking = new Set<string>();
  private holdTimer: NodeJS.Timeout | undefined;
  private active = false;
  private pausedMusic = false;

  constructor(
    private settings: DuckingSettings,
    private readonly out: DuckingOutput,
  ) {}

  /** A voice agent's `lk.agent.state` (undefined: it left, or has none). */
  agentState(identity: string, state: string | undefined): void {
    if (state === 'speaking') this.agentsSpeaking.add(identity);
    else this.agentsSpeaking.delete(identity);
    this.update();
  }

  /** LiveKit's active speakers, already without this agent, music agents and people heard directly. */
  speakers(identities: string[]): void {
    this.listedSpeaking = new Set(identities);
    this.update(true);
  }

  /** A person the agent hears directly (agent/voiceMeter.ts) started or stopped talking. */
  voice(identity: string, speaking: boolean): void {
    if (speaking) this.heardSpeaking.add(identity);
    else this.heardSpeaking.delete(identity);
    this.update(true);
  }

  left(identity: string): void {
    this.agentsSpeaking.delete(identity);
    this.listedSpeaking.delete(identity);
    this.heardSpeaking.delete(identity);
    this.update();
  }

  configure(change: DuckingChange): void {
    const s = this.settings;
    const mode = change.mode ?? s.mode;
    const enabled = change.enabled ?? s.enabled;
    // A change of mode or a switch-off ends the ducking as it was (a paused song resumes).
    if (this.active && (mode !== s.mode || !enabled)) this.release();
    this.settings = { ...s, enabled, mode, depthDb: change.depth_db ?? s.depthDb, releaseMs: change.release_ms ?? s.releaseMs };
    this.update();
    this.out.changed();
  }

  get envelope(): { depthDb: number; attackMs: number; releaseMs: number } {
    const { depthDb, attackMs, releaseMs } = this.settings;
    return { depthDb, attackMs, releaseMs };
  }

  /** As in the room's state. */
  status(): { enabled: boolean; active: boolean; mode: 'duck' | 'pause'; depth_db: number; release_ms: number } {
    const { enabled, mode, depthDb, releaseMs } = this.settings;
    return { enabled, active: this.active, mode, depth_db: depthDb, release_ms: releaseMs };
  }

  close(): void {
    clearTimeout(this.holdTimer);
  }

  private update(fromSpeakers = false): void {
    const speaking = this.settings.enabled && (this.agentsSpeaking.size > 0 || this.listedSpeaking.size > 0 || this.heardSpeaking.size > 0);
    if (speaking) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
      if (!this.active) this.engage();
      return;
    }
    if (!this.active || this.holdTimer) return;
    // An active speaker's pause between words must not bring the music back up for a moment.
    if (fromSpeakers && this.settings.enabled && this.settings.holdMs > 0) {
      this.holdTimer = setTimeout(() => {
        this.holdTimer = undefined;
        this.release();
      }, this.settings.holdMs);
      return;
    }
    this.release();
  }

  private engage(): void {
    this.active = true;
    if (this.settings.mode === 'duck') this.out.duck(true);
    else void this.out.pause().then((paused) => (this.pausedMusic = paused || this.pausedMusic));
    this.out.changed();
  }

  private release(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (!this.active) return;
    this.active = false;
    this.out.duck(false);
    if (this.pausedMusic) {
      this.pausedMusic = false;
      void this.out.resume();
    }
    this.out.changed();
  }
}
