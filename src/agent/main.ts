/** `npm run agent`: the Roomcast agent worker. Checks its setup, then hands over to the agents CLI. */
import { fileURLToPath } from 'node:url';
import { cli, ServerOptions } from '@livekit/agents';
import { loadAgentConfig } from '../config.js';
import { resolveFfmpeg } from '../ffmpeg.js';
import { createLogger } from '../log.js';
import { Catalog } from '../music/catalog.js';
import { startupStep } from '../startup.js';
import { agentParticipantName } from '../protocol/messages.js';
import { METRICS_PORT_ENV, collectJobMetrics, createAgentMetrics } from './metrics.js';
import { startOpsServer } from '../ops/httpServer.js';
import { LIVEKIT_TARGET_LOAD, roomLoad } from './workerLoad.js';

const config = await startupStep(() => loadAgentConfig());
const log = createLogger('agent', config.log);
const ffmpeg = await startupStep(() => resolveFfmpeg(config.ffmpegPath));
const catalog = await startupStep(() => Catalog.load(config.catalog));
log.info({ ffmpeg: ffmpeg.origin, songs: catalog.songs.length, agentName: config.livekit.agentName }, 'starting agent worker');

// Job processes are forked from this one and inherit the variable that tells them where to report.
const metrics = createAgentMetrics();
process.env[METRICS_PORT_ENV] = String(await collectJobMetrics(metrics));
await startupStep(() => startOpsServer({ host: config.http.host, port: config.metricsPort, registry: metrics.registry, unhealthy: () => undefined }));

/**
 * The framework kills a job process that is not initialised in 10 s and starts another. On a
 * loaded machine, starting Node with rtc-node and the catalog takes longer: the bench's 20-room
 * soak logged a timed-out start every 10 s for minutes, each one costing the CPU it lacked.
 */
const JOB_PROCESS_INIT_TIMEOUT_MS = 30_000;

cli.runApp(
  new ServerOptions({
    agent: fileURLToPath(new URL('../src/livekit/musicAgent.js', import.meta.url)),
    agentName: config.livekit.agentName,
    wsURL: config.livekit.url,
    apiKey: config.livekit.apiKey,
    apiSecret: config.livekit.apiSecret,
    host: config.http.host,
    port: config.http.port,
    loadFunc: async (worker) => {
      metrics.activeRooms.set(worker.activeJobs.length);
      return roomLoad(worker.activeJobs.length, config.maxRooms);
    },
    loadThreshold: LIVEKIT_TARGET_LOAD,
    numIdleProcesses: config.idleProcesses,
    initializeProcessTimeout: JOB_PROCESS_INIT_TIMEOUT_MS,
    requestFunc: async (req) => {
      await req.accept(agentParticipantName(config.livekit.agentName), `agent-${req.id}`);
    },
  }),
);
