/**
 * A room's whole sink chain, built here and nowhere else: sources write to the room's volume,
 * which writes to the ducker, then the declicker, which hands frames to the native end (the
 * published track).
 *
 *   source → VolumeSink → DuckSink → DeclickSink → NativeAudioSink (agent/musicTrack.ts)
 */
import type { NativeAudioSink } from './audioFormat.js';
import { DeclickSink } from './declick.js';
import { DuckSink, type DuckEnvelope } from './duck.js';
import { VolumeSink } from './volume.js';

/** `onStarved`: the native queue ran dry while music played (the room heard a gap). */
export function buildSinkChain(native: NativeAudioSink, duckEnvelope: DuckEnvelope, onStarved: () => void): { input: VolumeSink; duck: DuckSink } {
  const duck = new DuckSink(new DeclickSink(native, onStarved), duckEnvelope);
  return { input: new VolumeSink(duck), duck };
}
