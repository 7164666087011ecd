/**
 * `npm run agent`: the Roomcast agent worker. Checks its setup, then runs AGENT_PROCESSES host
 * processes (default: one per core), each a LiveKit agent worker that plays many rooms
 * (hostProcess.ts), and restarts one that dies. This process plays nothing itself: it keeps the
 * metrics of all of them and serves /metrics and /healthz.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadAgentConfig } from '../src/config.js';
import { resolveFfmpeg } from '../src/ffmpeg.js';
import { createLogger } from '../src/log.js';
import { Catalog } from '../src/music/catalog.js';
import { startupStep } from '../src/startup.js';
import { startOpsServer } from '../src/ops/httpServer.js';
import { METRICS_PORT_ENV, RECYCLE_EXIT_CODE, collectJobMetrics, createAgentMetrics } from './metrics.js';

const config = await startupStep(() => loadAgentConfig());
const log = createLogger('agent', config.log);
const ffmpeg = await startupStep(() => resolveFfmpeg(config.ffmpegPath));
const catalog = await startupStep(() => Catalog.load(config.catalog));
log.info({ ffmpeg: ffmpeg.origin, songs: catalog.songs.length, agentName: config.livekit.agentName, processes: config.processes, maxRoomsPerProcess: config.maxRooms }, 'starting agent worker');

const metrics = createAgentMetrics();
const metricsPort = await collectJobMetrics(metrics);
const HOST_SCRIPT = fileURLToPath(new URL('./hostProcess.js', import.meta.url));
/** A host that died is started again after this, doubling while it keeps dying young. */
const RESTART_MS = [500, 1_000, 2_000, 5_000, 10_000];
/** A host that lived this long had a real life: its next death restarts it at once again. */
const HEALTHY_LIFE_MS = 60_000;
const STOP_GRACE_MS = 10_000;

interface Host {
  index: number;
  child: ChildProcess;
  ready: boolean;
  startedAt: number;
  restarts: number;
}

const hosts: Host[] = [];
let stopping = false;

function startHost(index: number, restarts = 0): void {
  const child = fork(HOST_SCRIPT, [], { env: { ...process.env, ROOMCAST_HOST_INDEX: String(index), [METRICS_PORT_ENV]: String(metricsPort) }, stdio: 'inherit' });
  const host: Host = { index, child, ready: false, startedAt: Date.now(), restarts };
  hosts[index] = host;
  child.on('message', (message: { ready?: boolean }) => {
    if (message?.ready) host.ready = true;
  });
  child.on('exit', (code, signal) => {
    metrics.hostGone(child.pid ?? -1);
    if (stopping) return;
    if (code === RECYCLE_EXIT_CODE) {
      log.info({ host: index, pid: child.pid }, 'host process recycled (it had no rooms): starting a fresh one');
      return startHost(index);
    }
    const young = Date.now() - host.startedAt < HEALTHY_LIFE_MS;
    const next = young ? host.restarts + 1 : 0;
    const delayMs = RESTART_MS[Math.min(next, RESTART_MS.length - 1)] as number;
    log.error({ host: index, pid: child.pid, code, signal, restartInMs: delayMs }, 'host process exited: its rooms are gone; starting another');
    setTimeout(() => !stopping && startHost(index, next), delayMs);
  });
}

for (let i = 0; i < config.processes; i++) startHost(i);

await startupStep(() =>
  startOpsServer({
    host: config.http.host,
    port: config.http.port,
    registry: metrics.registry,
    unhealthy: () => (hosts.some((h) => h.ready && h.child.exitCode === null) ? undefined : 'no host process is registered with LiveKit'),
  }),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopping = true;
    log.info({ signal }, 'agent worker stopping');
    const running = hosts.filter((h) => h.child.exitCode === null && h.child.signalCode === null);
    const exited = running.map((h) => new Promise((resolve) => h.child.once('exit', resolve)));
    for (const h of running) h.child.kill('SIGTERM');
    const force = setTimeout(() => running.forEach((h) => h.child.kill('SIGKILL')), STOP_GRACE_MS);
    void Promise.all(exited).then(() => {
      clearTimeout(force);
      process.exit(0);
    });
  });
}
