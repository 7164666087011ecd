/**
 * A room's whole sink chain, built here and nowhere else: sources write to the room's volume,
 * which writes to the declicker, which hands frames to the ducker, the last stage before the
 * native end (the published track): ducking acts on what the room hears next.
 *
 *   source → VolumeSink → DeclickSink → DuckSink → NativeAudioSink (agent/musicTrack.ts)
 */
import type { NativeAudioSink } from './audioFormat.js';
import { DeclickSink } from './declick.js';
import { DuckSink, type DuckEnvelope } from './duck.js';
import { VolumeSink } from './volume.js';

/** `onStarved`: the native queue ran dry while music played (the room heard a gap). */
export function buildSinkChain(native: NativeAudioSink, duckEnvelope: DuckEnvelope, onStarved: () => void): { input: VolumeSink; duck: DuckSink } {
  const duck = new DuckSink(native, duckEnvelope);
  return { input: new VolumeSink(new DeclickSink(duck, onStarved)), duck };
}
