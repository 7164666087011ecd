/** `npm run bridge`: MQTT commands → LiveKit rooms. */
import { loadBridgeConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { RoomAgents } from './roomAgents.js';
import { Bridge } from './bridge.js';
import { startupStep } from '../src/startup.js';
import { createBridgeMetrics } from './metrics.js';
import { startOpsServer } from '../src/ops/httpServer.js';
import { listenerPageRoutes } from './listenerPage.js';
import { Catalog } from '../src/music/catalog.js';
import { roomcastVersion } from '../src/version.js';

const config = await startupStep(() => loadBridgeConfig());
const log = createLogger('bridge', config.log);
const metrics = createBridgeMetrics();
/**
 * The catalog's genres and languages, for Home Assistant's Genre select and the player page's
 * pickers (none without MUSIC_CATALOG, or if it cannot be read: the agent plays from its own copy).
 */
async function catalogChoices(): Promise<{ genres: string[]; languages: string[] }> {
  if (!config.catalog) return { genres: [], languages: [] };
  try {
    const catalog = await Catalog.load(config.catalog);
    return { genres: catalog.genres, languages: catalog.languages };
  } catch (err) {
    log.warn({ catalog: config.catalog, err: (err as Error).message }, 'could not read the catalog: no genre or language choices for Home Assistant and the player page');
    return { genres: [], languages: [] };
  }
}
const choices = await catalogChoices();
const homeAssistant = config.homeAssistant ? { ...config.homeAssistant, genres: choices.genres, version: roomcastVersion() } : undefined;
const bridge = new Bridge(config, new RoomAgents(config.livekit, log, (method) => metrics.livekitRequests.inc({ method })), log, metrics, homeAssistant);
await startupStep(() => bridge.start());
const page = config.listenerPage;
const routes = page ? listenerPageRoutes({ livekit: config.livekit, publicUrl: page.livekitUrl, choices, submit: (room, payload) => bridge.submit(room, payload), log }) : undefined;
await startupStep(() => startOpsServer({ ...config.http, registry: metrics.registry, unhealthy: () => bridge.unhealthy(), routes }));
log.info({ port: config.http.port, listenerPage: page ? '/listen' : 'off' }, 'serving /metrics and /healthz');

/**
 * A stopping bridge is gone by then even if its broker is not there to say goodbye to (a bridge
 * whose broker had gone was found still running an hour after its SIGTERM, waiting on it).
 */
const STOP_DEADLINE_MS = 5_000;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'bridge stopping');
    setTimeout(() => {
      log.warn('the bridge did not stop cleanly in time: exiting anyway');
      process.exit(0);
    }, STOP_DEADLINE_MS).unref();
    void bridge.stop().finally(() => process.exit(0));
  });
}
