/**
 * A host process: registers with LiveKit as an agent worker and plays every room it is given, up
 * to AGENT_MAX_ROOMS, in this one process (roomHost.ts). The agent's main process forks
 * AGENT_PROCESSES of these (main.ts) and restarts one that dies.
 */
import { loadAgentConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Catalog } from '../src/music/catalog.js';
import { createLoudness } from '../src/playout/loudness.js';
import { useFfmpegLauncher } from '../src/playout/ffmpegRunner.js';
import { EventLoopWatch } from './eventLoop.js';
import { startupStep } from '../src/startup.js';
import { resolveFfmpeg } from '../src/ffmpeg.js';
import { MetricsReporter, RECYCLE_EXIT_CODE } from './metrics.js';
import { RoomHost, roomOfError } from './roomHost.js';
import { WorkerLink } from './workerLink.js';
import { ReportLink } from './reportLink.js';
import { routeRtcNodeLogs } from './rtcNodeLogs.js';

const config = await startupStep(() => loadAgentConfig());
const log = createLogger('agent', config.log).child({ host: Number(process.env.ROOMCAST_HOST_INDEX ?? 0) });
routeRtcNodeLogs(log);
const catalog = await startupStep(() => Catalog.load(config.catalog));
catalog.watch((result) => {
  if ('error' in result) log.warn({ catalog: config.catalog, err: result.error }, 'catalog reload failed; keeping the songs there were');
  else log.info({ catalog: config.catalog, songs: result.songs }, 'catalog reloaded');
});

// Resolved now, not by the first room: on a loaded machine the resolver's `ffmpeg -version` can
// time out, and a room would then get the fallback of @livekit/av.
const ffmpeg = await startupStep(() => resolveFfmpeg(config.ffmpegPath));
// ffmpeg is started by a small launcher process: forking this one would stall every room. The
// audio-only ffmpeg of @livekit/av cannot write to a Unix socket: that one is spawned directly.
const stopLauncher = ffmpeg.origin === '@livekit/av' ? () => undefined : useFfmpegLauncher((problem) => log.warn(problem));
const loopWatch = new EventLoopWatch(log);

const metrics = new MetricsReporter();
const reports = config.mqtt ? new ReportLink(config.mqtt, log) : undefined;
/**
 * rtc-node keeps a track's audio source capture task running when the room went away under the
 * track (deleted while playing), ~4 ms/s each for the life of the process, and nothing frees it
 * (docs/ARCHITECTURE.md). A host with no rooms left and AGENT_RECYCLE_AFTER_LEAKS of them behind
 * exits; the main process starts a fresh one at once.
 */
let leakedTracks = 0;
const recycleIfIdle = () => {
  if (config.recycleAfterLeaks === 0 || leakedTracks < config.recycleAfterLeaks || !host.idle) return;
  log.info({ leakedTracks }, 'no rooms left, and rtc-node holds the tracks of rooms deleted under them: starting this host process afresh');
  void stop('recycle', RECYCLE_EXIT_CODE);
};
const host = new RoomHost({
  config,
  catalog,
  log,
  metrics,
  loudness: createLoudness(config),
  reports,
  roomsChanged: (rooms) => {
    loopWatch.watching(rooms > 0);
    if (rooms === 0) recycleIfIdle();
  },
  trackLeaked: () => leakedTracks++,
});
reports?.start(() => host.roomsTaken, config.maxRooms);
const link = new WorkerLink(config.livekit, host, log);
host.attach(link);

// Whatever throws in a room's code ends that room; the other rooms of this process play on.
const contain = (kind: string) => (err: unknown) => {
  const room = roomOfError();
  if (room) host.failed(room, err);
  else log.error({ err, kind }, 'error outside any room: this process carries on');
};
process.on('uncaughtException', contain('uncaughtException'));
process.on('unhandledRejection', contain('unhandledRejection'));

/**
 * A stopping host is gone by then, whatever its rooms' leaving waits for (a LiveKit server or a
 * broker that is gone may never answer): within the main process's 10-s grace.
 */
const STOP_DEADLINE_MS = 9_000;
let stopping = false;
const stop = async (signal: string, exitCode = 0) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal, rooms: host.roomCount }, 'host process stopping: leaving its rooms');
  setTimeout(() => {
    log.warn({ rooms: host.roomCount }, 'rooms did not all leave in time: exiting anyway');
    process.exit(0);
  }, STOP_DEADLINE_MS).unref();
  await host.drain();
  await reports?.close();
  link.close();
  stopLauncher();
  process.exit(exitCode);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(signal));
// The main process went away without a word: rooms must not play on unsupervised.
process.on('disconnect', () => void stop('parent gone'));

await link.start();
process.send?.({ ready: true });
