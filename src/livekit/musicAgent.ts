/**
 * The Roomcast agent as the @livekit/agents framework runs it: one job per room, in a job process.
 * This module is what the worker loads in each job process (ServerOptions.agent).
 */
import { AutoSubscribe, defineAgent, type JobContext } from '@livekit/agents';
import { loadAgentConfig, type AgentConfig } from '../config.js';
import { createLogger } from '../log.js';
import { Catalog } from '../music/catalog.js';
import { RoomSession } from '../agent/roomSession.js';
import { MetricsReporter } from '../agent/metrics.js';
import { AGENT_ATTRIBUTE, agentParticipantName } from '../protocol/messages.js';

let catalog: Promise<Catalog> | undefined;
/** Once per job process, which then follows the catalog's changes. */
const loadCatalog = (config: AgentConfig) => (catalog ??= Catalog.load(config.catalog).then((loaded) => followChanges(loaded, config)));

function followChanges(loaded: Catalog, config: AgentConfig): Catalog {
  const log = createLogger('agent', config.log).child({ catalog: config.catalog });
  loaded.watch((result) => {
    if ('error' in result) log.warn({ err: result.error }, 'catalog reload failed; keeping the songs there were');
    else log.info({ songs: result.songs }, 'catalog reloaded');
  });
  return loaded;
}

/**
 * At most one Roomcast agent plays in a room (two bridges may dispatch at once). A joining agent
 * gives way to one that is ready, or, when neither is, to the one with the smaller identity.
 */
function yieldsToAnotherAgent(ctx: JobContext, agentName: string): boolean {
  const me = ctx.room.localParticipant?.identity ?? '';
  return [...ctx.room.remoteParticipants.values()].some(
    (p) => p.name === agentParticipantName(agentName) && (p.attributes[AGENT_ATTRIBUTE] === agentName || p.identity < me),
  );
}

export default defineAgent({
  // Job processes are started ahead of demand: load the catalog there, not on the command's path.
  prewarm: async () => {
    await loadCatalog(loadAgentConfig());
  },
  entry: async (ctx: JobContext) => {
    const config = loadAgentConfig();
    const log = createLogger('agent', config.log).child({ room: ctx.job.room?.name, job: ctx.job.id });
    const metrics = new MetricsReporter();
    const session = new RoomSession(ctx.room, { catalog: await loadCatalog(config), config, log, metrics });
    session.listen();
    ctx.addShutdownCallback(async () => {
      await session.close();
      metrics.close();
    });
    const giveWay = () => {
      if (!yieldsToAnotherAgent(ctx, config.livekit.agentName)) return false;
      log.warn('another Roomcast agent is in the room: leaving it to that one');
      ctx.shutdown('another Roomcast agent is in the room');
      return true;
    };
    await ctx.connect(undefined, AutoSubscribe.SUBSCRIBE_NONE);
    if (giveWay()) return;
    await session.publish();
    // Once more: an agent that joined meanwhile may have the smaller identity.
    if (giveWay()) return;
    await session.announceReady();
    session.leaveWhenEmpty(() => ctx.shutdown('room empty'));
    log.info('joined room');
  },
});
