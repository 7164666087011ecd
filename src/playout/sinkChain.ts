/**
 * A room's whole sink chain, built here and nowhere else: sources write to the room's volume,
 * which writes to the declicker, which hands frames to the native end (the published track).
 *
 *   source → VolumeSink → DeclickSink → NativeAudioSink (agent/musicTrack.ts)
 */
import type { NativeAudioSink } from './audioFormat.js';
import { DeclickSink } from './declick.js';
import { VolumeSink } from './volume.js';

/** `onStarved`: the native queue ran dry while music played (the room heard a gap). */
export function buildSinkChain(native: NativeAudioSink, onStarved: () => void): VolumeSink {
  return new VolumeSink(new DeclickSink(native, onStarved));
}
