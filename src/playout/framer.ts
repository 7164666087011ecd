/** Cuts a PCM byte stream into fixed-length AudioFrames for `AudioSource.captureFrame`. */
import { AudioFrame } from '@livekit/rtc-node';
import { BYTES_PER_SAMPLE, CHANNELS, SAMPLE_RATE, SAMPLES_PER_FRAME } from './audioFormat.js';

const FRAME_BYTES = SAMPLES_PER_FRAME * CHANNELS * BYTES_PER_SAMPLE;

/**
 * Yields whole frames; the last partial frame of the stream is padded with silence.
 * Each frame owns its samples, because captureFrame hands them to native code asynchronously.
 */
export async function* toFrames(chunks: AsyncIterable<Buffer>): AsyncGenerator<AudioFrame> {
  let pending = new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
  let filled = 0; // bytes in `pending`
  const pendingBytes = () => new Uint8Array(pending.buffer);
  for await (const chunk of chunks) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(FRAME_BYTES - filled, chunk.length - offset);
      pendingBytes().set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === FRAME_BYTES) {
        yield new AudioFrame(pending, SAMPLE_RATE, CHANNELS, SAMPLES_PER_FRAME);
        pending = new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield new AudioFrame(pending, SAMPLE_RATE, CHANNELS, SAMPLES_PER_FRAME);
}
