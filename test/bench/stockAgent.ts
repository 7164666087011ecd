/**
 * The stock way, for the bench to compare with: a minimal music agent built only from
 * @livekit/agents parts (BackgroundAudioPlayer, which decodes files with audioFramesFromFile),
 * playing the catalog's files one after another into a room. It takes the same `music_control`
 * packets as Roomcast's agent (start, skip, stop) and marks itself and its confirmations with the
 * same attributes, so that the same bridge and the same measurements drive both. Nothing else.
 *   node dist/test/bench/stockAgent.js start   (LIVEKIT_*, MUSIC_CATALOG, ROOMCAST_AGENT_NAME)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BackgroundAudioPlayer, cli, defineAgent, ServerOptions, type JobContext, type PlayHandle } from '@livekit/agents';
import { RoomEvent } from '@livekit/rtc-node';

const AGENT_ATTRIBUTE = 'roomcast.agent';
const RESULTS_ATTRIBUTE = 'roomcast.results';
const agentName = process.env.ROOMCAST_AGENT_NAME ?? 'roomcast';

function catalogFiles(genre?: string): string[] {
  const { songs } = JSON.parse(readFileSync(process.env.MUSIC_CATALOG as string, 'utf8')) as { songs: Array<{ url: string; genre?: string }> };
  return songs.filter((s) => !genre || s.genre === genre).map((s) => s.url);
}

export default defineAgent({
  entry: async (ctx: JobContext) => {
    await ctx.connect();
    const player = new BackgroundAudioPlayer();
    await player.start({ room: ctx.room });
    let files: string[] = [];
    let next = 0;
    let current: PlayHandle | undefined;
    const results: object[] = [];
    const playNext = () => {
      const handle = player.play(files[next++ % files.length] as string);
      current = handle;
      // When a file ends (or is stopped by a skip), the next one starts, unless music stopped.
      void handle.waitForPlayout().then(() => current === handle && playNext());
    };
    const apply = (command: { type: string; genre?: string; request_id?: string }) => {
      if (command.type === 'start_continuous_music') {
        files = catalogFiles(command.genre);
        const previous = current;
        current = undefined;
        previous?.stop();
        playNext();
      } else if (command.type === 'skip_music') current?.stop();
      else if (command.type === 'stop_continuous_music') {
        const previous = current;
        current = undefined;
        previous?.stop();
      }
      results.push({ type: 'result', ok: true, message: command.type, request_id: command.request_id });
      if (results.length > 256) results.shift();
    };
    ctx.room.on(RoomEvent.DataReceived, (payload, _participant, _kind, topic) => {
      if (topic !== 'music_control') return;
      const body = JSON.parse(new TextDecoder().decode(payload)) as object;
      for (const command of Array.isArray(body) ? body : [body]) apply(command);
      void ctx.room.localParticipant?.setAttributes({ [RESULTS_ATTRIBUTE]: JSON.stringify(results) });
    });
    await ctx.room.localParticipant?.setAttributes({ [AGENT_ATTRIBUTE]: agentName });
  },
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  cli.runApp(
    new ServerOptions({
      agent: fileURLToPath(import.meta.url),
      agentName,
      wsURL: process.env.LIVEKIT_URL,
      apiKey: process.env.LIVEKIT_API_KEY,
      apiSecret: process.env.LIVEKIT_API_SECRET,
      port: Number(process.env.AGENT_HTTP_PORT ?? 0),
      host: '127.0.0.1',
      numIdleProcesses: Number(process.env.AGENT_IDLE_PROCESSES ?? 2),
    }),
  );
}
