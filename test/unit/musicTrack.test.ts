/** A music track that cannot be unpublished: a warning while the room is live, debug when the agent leaves it. */
import { AudioFrame, type LocalParticipant } from '@livekit/rtc-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MusicTrack } from '../../agent/musicTrack.js';
import { recordedLog } from './recordedLog.js';

/** A participant whose room went away: the track publishes, its unpublishing is aborted. */
function goneRoomParticipant() {
  const trackPublications = new Map<string, object>();
  return {
    trackPublications,
    publishTrack: async () => {
      trackPublications.set('TR_music', {});
      return { sid: 'TR_music' };
    },
    unpublishTrack: async () => Promise.reject(new Error('This operation was aborted')),
  } as unknown as LocalParticipant;
}

const unpublishFailures = (lines: Array<{ level: string; msg: string }>) => lines.filter((l) => l.msg === 'could not unpublish the music track').map((l) => l.level);

describe('MusicTrack', () => {
  afterEach(() => vi.useRealTimers());

  it('closing (the agent leaves its room): a failed unpublish is logged at debug, and the track counted as left to rtc-node', async () => {
    const { log, lines } = recordedLog();
    const leaked = vi.fn();
    const track = new MusicTrack(goneRoomParticipant(), { bitrate: 128_000, queueMs: 100, idleMs: 0 }, log, leaked);
    await track.publish();
    await track.close();
    expect(unpublishFailures(lines)).toEqual(['debug']);
    expect(leaked).toHaveBeenCalledTimes(1);
  });

  it('idle in a live room: a failed unpublish is a warning', async () => {
    vi.useFakeTimers();
    const { log, lines } = recordedLog();
    const track = new MusicTrack(goneRoomParticipant(), { bitrate: 128_000, queueMs: 100, idleMs: 1_000 }, log);
    await track.publish();
    await track.captureFrame(AudioFrame.create(48_000, 2, 480));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(unpublishFailures(lines)).toEqual(['warn']);
    expect(track.published).toBe(false);
    await track.close();
  });
});
