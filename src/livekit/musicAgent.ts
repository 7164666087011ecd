/**
 * The Roomcast agent as the @livekit/agents framework runs it: one job per room, in a job process.
 * This module is what the worker loads in each job process (ServerOptions.agent).
 */
import { AutoSubscribe, defineAgent, type JobContext } from '@livekit/agents';
import { loadAgentConfig } from '../config.js';
import { createLogger } from '../log.js';
import { Catalog } from '../music/catalog.js';
import { RoomSession } from './roomSession.js';
import { MetricsReporter } from '../ops/agentMetrics.js';

let catalog: Promise<Catalog> | undefined;
const loadCatalog = (location: string) => (catalog ??= Catalog.load(location));

export default defineAgent({
  // Job processes are started ahead of demand: load the catalog there, not on the command's path.
  prewarm: async () => {
    await loadCatalog(loadAgentConfig().catalog);
  },
  entry: async (ctx: JobContext) => {
    const config = loadAgentConfig();
    const log = createLogger('agent', config.log).child({ room: ctx.job.room?.name, job: ctx.job.id });
    const metrics = new MetricsReporter();
    const session = new RoomSession(ctx.room, { catalog: await loadCatalog(config.catalog), config, log, metrics });
    session.listen();
    ctx.addShutdownCallback(async () => {
      await session.close();
      metrics.close();
    });
    await ctx.connect(undefined, AutoSubscribe.SUBSCRIBE_NONE);
    await session.publish();
    session.leaveWhenEmpty(() => ctx.shutdown('room empty'));
    log.info('joined room');
  },
});
