/**
 * Hears whether a person in the room is talking, from their own audio: LiveKit's active speaker
 * list, the alternative, reported a person ~220–710 ms after they began and let them go ~850 ms
 * after they stopped (test/e2e/ducking.test.ts), so the music ducked late and came back ~2 s after
 * the speech. The agent already subscribes to people's audio for that list (ducking.ts); this reads
 * it at 8 kHz mono in 40-ms frames and says `speaking` after two frames above SPEECH_RMS, and
 * `silent` after QUIET_MS below it (the room's hold then bridges the pauses between words).
 *
 * What it costs is mostly per frame, not per sample (every frame is an FFI event and a wake-up of
 * the event loop): four people in four playing rooms cost the worker ~20 ms/s each read at 16 kHz in
 * 20-ms frames, ~10 in 40-ms frames, ~6 in 100-ms frames, against ~6 for the subscription alone
 * (a probe, 3 × 15-s windows each). 40 ms keeps the onset within 80 ms.
 */
import { AudioStream, type RemoteTrack } from '@livekit/rtc-node';

/** −40 dBFS: quiet speech into a phone is well above it, a quiet room well below. */
const SPEECH_RMS = 0.01;
const ONSET_FRAMES = 2;
const QUIET_MS = 120;
const FRAME_MS = 40;
const RATE = 8_000;

export class VoiceMeter {
  private closed = false;
  private readonly stream: AudioStream;

  constructor(
    track: RemoteTrack,
    private readonly onSpeaking: (speaking: boolean) => void,
  ) {
    this.stream = new AudioStream(track, { sampleRate: RATE, numChannels: 1, frameSizeMs: FRAME_MS });
    void this.read();
  }

  close(): void {
    this.closed = true;
    void this.stream.cancel().catch(() => undefined);
  }

  private async read(): Promise<void> {
    const reader = this.stream.getReader();
    let loud = 0;
    let quietMs = 0;
    let speaking = false;
    try {
      while (!this.closed) {
        const { value: frame, done } = await reader.read();
        if (done) break;
        let sum = 0;
        for (const x of frame.data) sum += x * x;
        const rms = Math.sqrt(sum / Math.max(1, frame.data.length)) / 32768;
        if (rms >= SPEECH_RMS) {
          loud++;
          quietMs = 0;
          if (!speaking && loud >= ONSET_FRAMES) this.onSpeaking((speaking = true));
        } else {
          loud = 0;
          quietMs += FRAME_MS;
          if (speaking && quietMs >= QUIET_MS) this.onSpeaking((speaking = false));
        }
      }
    } catch {
      // The track went away: the participant left or unpublished.
    } finally {
      if (speaking) this.onSpeaking(false);
      reader.releaseLock();
    }
  }
}
