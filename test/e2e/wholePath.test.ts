/**
 * Issue "The whole path, end to end": MQTT command → bridge → LiveKit data packet → agent →
 * ffmpeg → `music` track → a real rtc-node listener that checks the tone it hears.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTone, type Listener } from '../harness/listener.js';
import { startRoomcast, trackId, type Roomcast } from '../harness/roomcast.js';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { API_KEY, API_SECRET } from '../harness/stack.js';
import { processTree } from '../harness/procTree.js';
import { waitUntil } from '../harness/processes.js';
import { HA_PYTHON } from '../harness/homeAssistant.js';
import mqtt from 'mqtt';
import nunjucks from 'nunjucks';

let rc: Roomcast;
const frequencyOf = (id: unknown) => rc.frequencyOf(id);

beforeAll(async () => {
  rc = await startRoomcast(undefined, { AGENT_CONTROL_IDENTITIES: 'control-panel', AGENT_EMPTY_ROOM_MS: '3000' }, undefined, { HA_DISCOVERY_ROOMS: 'ha-kitchen' });
});

afterAll(async () => {
  await rc?.stop();
  // Secrets never reach the logs: the whole output of both processes, every level.
  for (const proc of [rc.agent, rc.bridge]) expect(proc.output()).not.toContain(API_SECRET);
});

describe('the whole path', () => {
  const room = 'whole-path';
  let listener: Listener;
  let firstFrequency: number;

  it('start dispatches an agent into a room that has none, and the listener hears the first song', async () => {
    listener = await rc.listen(room);
    const sent = rc.app.send(room, { type: 'start_continuous_music', language: 'English', genre: 'pop', session_id: room });
    const reply = await sent.response;
    expect(reply).toMatchObject({ type: 'reply', command: 'start_continuous_music', ok: true, status: 'accepted', session_id: room });
    expect(reply.request_id).toBeTruthy();

    const confirmation = await listener.waitForMessage((m) => m.type === 'continuous_music_started', { since: sent.at, timeoutMs: 30_000 });
    expect(confirmation.body).toMatchObject({ ok: true, language: 'English', genre: 'pop', request_id: reply.request_id });
    firstFrequency = frequencyOf(trackId(confirmation.body));
    expect([440, 660, 880]).toContain(firstFrequency);
    await listener.waitForTone(firstFrequency, { since: sent.at, timeoutMs: 20_000 });
    // The reply also went to the session's reply topic.
    expect(rc.app.replies.some((r) => r.topic === `roomcast/${room}/reply` && r.reply.request_id === reply.request_id)).toBe(true);
    // Then the agent's confirmation comes back as the final reply, and the state is mirrored.
    const final = await sent.final;
    expect(final).toMatchObject({ status: 'done', ok: true, request_id: reply.request_id, result: { type: 'continuous_music_started', track: { id: trackId(confirmation.body) } } });
    await rc.app.waitForState(room, (s) => s.state === 'playing' && (s.track as { id?: string }).id === trackId(confirmation.body));
  });

  it('plays the next song when one ends, without any command', async () => {
    const next = await listener.waitForMessage((m) => m.type === 'track_started' && frequencyOf(trackId(m)) !== firstFrequency, { timeoutMs: 10_000 });
    const nextFrequency = frequencyOf(trackId(next.body));
    expect([440, 660, 880]).toContain(nextFrequency);
    await listener.waitForTone(nextFrequency, { since: next.at - 1_000, timeoutMs: 10_000 });
    const ended = listener.messages.find((m) => m.body.type === 'track_ended' && m.body.reason === 'finished');
    expect(ended).toBeDefined();
  });

  it('skip_music switches to a different song at once', async () => {
    const before = listener.windows.at(-1);
    const heardBefore = rc.songs.find((s) => before && isTone(before, s.frequency))?.frequency;
    const sent = rc.app.send(room, { type: 'skip_music' });
    expect(await sent.response).toMatchObject({ ok: true, status: 'accepted', command: 'skip_music' });
    const confirmation = await listener.waitForMessage((m) => m.type === 'music_skipped', { since: sent.at });
    expect(confirmation.body.ok).toBe(true);
    const skippedTo = frequencyOf(trackId(confirmation.body));
    expect(skippedTo).not.toBe(heardBefore);
    await listener.waitForTone(skippedTo, { since: sent.at, timeoutMs: 5_000 });
  });

  it('stop_continuous_music brings silence', async () => {
    const sent = rc.app.send(room, { type: 'stop_continuous_music' });
    expect(await sent.response).toMatchObject({ ok: true, status: 'accepted', command: 'stop_continuous_music' });
    const confirmation = await listener.waitForMessage((m) => m.type === 'continuous_music_stopped', { since: sent.at });
    expect(confirmation.body).toMatchObject({ ok: true, message: 'Stopped continuous music streaming' });
    await listener.waitForSilence({ since: confirmation.at + 300 });
    expect(await sent.final).toMatchObject({ status: 'done', ok: true, message: 'Stopped continuous music streaming' });
    await rc.app.waitForState(room, (s) => s.state === 'stopped', { since: sent.at });
  });

  it('a command the agent cannot apply gets an error reply with the reason', async () => {
    const sent = rc.app.send(room, { type: 'skip_music' });
    expect(await sent.response).toMatchObject({ status: 'accepted' });
    expect(await sent.final).toMatchObject({ ok: false, status: 'error', error: { code: 'command_failed', reason: 'no music is playing' } });
  });

  it('filters by language and genre, case-insensitively', async () => {
    const sent = rc.app.send(room, { type: 'start_continuous_music', language: 'spanish', genre: 'ROCK' });
    await sent.response;
    const confirmation = await listener.waitForMessage((m) => m.type === 'continuous_music_started', { since: sent.at });
    expect(trackId(confirmation.body)).toBe('b1320');
    await listener.waitForTone(1320, { since: sent.at, timeoutMs: 10_000 });
    rc.app.send(room, { type: 'stop_continuous_music' });
  });
});

describe('a room that does not exist yet', () => {
  it('is created with an agent in it, and a listener who joins later hears the music', async () => {
    const room = 'created-by-command';
    const sent = rc.app.send(room, { type: 'start_continuous_music', genre: 'rock' });
    expect(await sent.response).toMatchObject({ ok: true, status: 'accepted' });
    const listener = await rc.listen(room);
    await listener.waitForTone(1320, { timeoutMs: 10_000 });
    rc.app.send(room, { type: 'stop_continuous_music' });
  });

  it('a skip sent while the agent is still joining is applied after the start', async () => {
    const room = 'skip-while-joining';
    const listener = await rc.listen(room);
    const start = rc.app.send(room, { type: 'start_continuous_music', genre: 'pop' });
    const skip = rc.app.send(room, { type: 'skip_music' });
    expect(await start.final).toMatchObject({ status: 'done', ok: true });
    const skipped = await skip.final;
    expect(skipped).toMatchObject({ status: 'done', ok: true });
    const first = (await start.final).result?.track?.id;
    const next = skipped.result?.track?.id;
    expect(next).not.toBe(first);
    await listener.waitForTone(frequencyOf(next), { since: skip.at });
    rc.app.send(room, { type: 'stop_continuous_music' });
  });
});

describe('a room without music', () => {
  it('stop, skip and status are answered at once, as an agent would, and dispatch no agent', async () => {
    const room = 'no-music-here';
    const stop = rc.app.send(room, { type: 'stop_continuous_music' });
    expect(await stop.response).toMatchObject({ status: 'done', ok: true, result: { type: 'continuous_music_stopped', message: 'Music streaming is not active' } });
    const skip = rc.app.send(room, { type: 'skip_music' });
    expect(await skip.response).toMatchObject({ status: 'error', ok: false, error: { code: 'command_failed', reason: 'no music is playing' } });
    const status = rc.app.send(room, { type: 'get_music_status' });
    expect(await status.response).toMatchObject({ status: 'done', result: { status: { state: 'stopped', agent: false } } });
    await new Promise((r) => setTimeout(r, 2_000));
    const url = rc.livekit.url.replace('ws://', 'http://');
    expect(await new AgentDispatchClient(url, API_KEY, API_SECRET).listDispatch(room).catch(() => [])).toEqual([]);
    expect(await new RoomServiceClient(url, API_KEY, API_SECRET).listParticipants(room).catch(() => [])).toEqual([]);
  });

  it('MQTT 5 request/response: the Response Topic gets exactly one message, the final reply, with its Correlation Data', async () => {
    // As a user would try it: mosquitto_rr prints the first message on the response topic and exits.
    const broker = new URL(rc.broker.url);
    const rr = spawnSync(
      'mosquitto_rr',
      ['-V', '5', '-h', broker.hostname, '-p', broker.port, '-t', 'roomcast/rr-room/command', '-e', 'app/rr/responses', '-m', '{"type":"get_music_status"}', '-W', '10'],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(rr.status, rr.stderr).toBe(0);
    expect(JSON.parse(rr.stdout)).toMatchObject({ status: 'done', ok: true, command: 'get_music_status', result: { status: { state: 'stopped' } } });
    // A command that is delivered to an agent: `accepted` on the reply topic only, the final reply
    // alone on the response topic.
    const sent = rc.app.send('rr-room', { type: 'start_continuous_music', genre: 'pop' });
    expect(await sent.response).toMatchObject({ status: 'accepted' });
    const final = await sent.final;
    expect(final).toMatchObject({ status: 'done', ok: true });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(rc.app.responses.get(sent.correlation)).toEqual([final]);
    expect(rc.app.replies.filter((r) => r.reply.request_id === final.request_id).map((r) => r.reply.status)).toEqual(['accepted', 'done']);
    await rc.app.send('rr-room', { type: 'stop_continuous_music' }).final;
  });
});

describe('who may control the music', () => {
  const room = 'control';
  let listener: Listener;

  it('a listener who sends skip_music on the data channel changes nothing, and is logged', async () => {
    listener = await rc.listen(room, { canPublishData: true, identity: 'curious-listener' });
    const start = rc.app.send(room, { type: 'start_continuous_music', genre: 'pop' });
    await start.final;
    const since = Date.now();
    await listener.sendControl({ type: 'skip_music', request_id: 'from-a-listener' });
    await rc.agent.waitFor(/ignored a command from a participant that may not control the music.*curious-listener|curious-listener.*ignored a command/, 5_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(listener.messages.filter((m) => m.at >= since && m.body.type === 'music_skipped')).toHaveLength(0);
  });

  it('an identity in AGENT_CONTROL_IDENTITIES may control it', async () => {
    const panel = await rc.listen(room, { canPublishData: true, identity: 'control-panel' });
    const since = Date.now();
    await panel.sendControl({ type: 'skip_music', request_id: 'from-the-panel' });
    const skipped = await listener.waitForMessage((m) => m.type === 'music_skipped', { since });
    expect(skipped.body).toMatchObject({ ok: true, request_id: 'from-the-panel' });
  });

  it('a duplicate request_id is applied once', async () => {
    const since = Date.now();
    const first = rc.app.send(room, { type: 'skip_music', request_id: 'skip-once' });
    const second = rc.app.send(room, { type: 'skip_music', request_id: 'skip-once' });
    expect(await first.final).toMatchObject({ status: 'done', ok: true });
    expect(await second.final).toMatchObject({ status: 'done', ok: true });
    await new Promise((r) => setTimeout(r, 500));
    const skips = listener.messages.filter((m) => m.at >= since && m.body.type === 'track_ended' && m.body.reason === 'skipped');
    expect(skips).toHaveLength(1);
    rc.app.send(room, { type: 'stop_continuous_music' });
  });
});

describe('bad input', () => {
  const room = 'bad-input';
  const cases: Array<[string, object | string, RegExp, string]> = [
    ['not JSON', '{"type": "start_contin', /not valid JSON/, 'invalid_command'],
    ['not an object', '[1,2,3]', /must be a JSON object/, 'invalid_command'],
    ['an unknown type', { type: 'dance' }, /unknown command type "dance"/, 'invalid_command'],
    ['no type', { genre: 'pop' }, /"type" is required/, 'invalid_command'],
    ['a wrong field type', { type: 'start_continuous_music', genre: 5 }, /field "genre"/, 'invalid_command'],
    ['a session mismatch', { type: 'skip_music', session_id: 'someone-else' }, /does not match/, 'session_mismatch'],
    ['an oversized payload', { type: 'skip_music', pad: 'x'.repeat(10_000) }, /limit is 4096/, 'invalid_command'],
  ];

  it.each(cases)('%s gets an error reply', async (_name, payload, reason, code) => {
    const reply = await rc.app.send(room, payload).response;
    expect(reply).toMatchObject({ ok: false, status: 'error', session_id: room, error: { code } });
    expect(reply.error?.reason).toMatch(reason);
  });

  it('a command with a bad request_id is still answered, and the bridge keeps running', async () => {
    const reply = await rc.app.send(room, { type: 'skip_music', request_id: 'r'.repeat(500) }).response;
    expect(reply.ok).toBe(false);
    expect(rc.bridge.child.exitCode).toBeNull();
    expect(rc.agent.child.exitCode).toBeNull();
    const listener = await rc.listen(room);
    const sent = rc.app.send(room, { type: 'start_continuous_music', genre: 'pop', request_id: 'after-bad-input' });
    expect(await sent.response).toMatchObject({ ok: true, request_id: 'after-bad-input' });
    const confirmation = await listener.waitForMessage((m) => m.type === 'continuous_music_started', { since: sent.at, timeoutMs: 30_000 });
    await listener.waitForTone(frequencyOf(trackId(confirmation.body)), { since: sent.at });
    rc.app.send(room, { type: 'stop_continuous_music' });
  });
});

describe('queue, previous, volume and status', () => {
  const room = 'queue';
  let listener: Listener;
  const level = (since: number, until: number) => {
    const ws = listener.windows.filter((w) => w.at >= since && w.at <= until && w.level > 0.01);
    return ws.reduce((n, w) => n + w.level, 0) / Math.max(1, ws.length);
  };

  it('play_music starts the named song', async () => {
    listener = await rc.listen(room);
    const sent = rc.app.send(room, { type: 'play_music', song_name: 'tone 880 hz' });
    expect(await sent.final).toMatchObject({ status: 'done', result: { type: 'music_playing', track: { id: 'a880' } } });
    await listener.waitForTone(880, { since: sent.at });
  });

  it('enqueue_music plays the song next; previous_music goes back', async () => {
    const enqueued = await rc.app.send(room, { type: 'enqueue_music', query: '1320' }).final;
    expect(enqueued).toMatchObject({ status: 'done', result: { position: 1, track: { id: 'b1320' } } });
    const skip = rc.app.send(room, { type: 'skip_music' });
    expect((await skip.final).result?.track?.id).toBe('b1320');
    await listener.waitForTone(1320, { since: skip.at });
    const back = rc.app.send(room, { type: 'previous_music' });
    expect((await back.final).result?.track?.id).toBe('a880');
    await listener.waitForTone(880, { since: back.at });
  });

  it('set_volume scales what the listener hears, and get_music_status reports it', async () => {
    const before = Date.now();
    await new Promise((r) => setTimeout(r, 800));
    const loud = level(before, Date.now());
    const sent = rc.app.send(room, { type: 'set_volume', volume: 25 });
    expect(await sent.final).toMatchObject({ status: 'done', result: { volume: 25 } });
    await new Promise((r) => setTimeout(r, 1_200));
    const quiet = level(sent.at + 500, Date.now());
    expect(quiet / loud).toBeGreaterThan(0.15);
    expect(quiet / loud).toBeLessThan(0.35);
    const status = await rc.app.send(room, { type: 'get_music_status' }).final;
    expect(status.result?.status).toMatchObject({ state: 'playing', volume: 25, source: 'playlist' });
  });

  it('a song that is not in the catalog is refused with the reason', async () => {
    const reply = await rc.app.send(room, { type: 'play_music', song_name: 'Never Written' }).final;
    expect(reply).toMatchObject({ ok: false, error: { code: 'command_failed', reason: 'no song matches "Never Written"' } });
    rc.app.send(room, { type: 'stop_continuous_music' });
  });
});

describe('one agent per room', () => {
  it('a second agent dispatched into a playing room gives way, and the music goes on', async () => {
    const room = 'one-agent';
    const { listener } = await rc.startIn(room);
    const url = rc.livekit.url.replace('ws://', 'http://');
    await new AgentDispatchClient(url, API_KEY, API_SECRET).createDispatch(room, 'roomcast-test');
    await rc.agent.waitFor(/another Roomcast agent is in the room/, 15_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const agents = (await new RoomServiceClient(url, API_KEY, API_SECRET).listParticipants(room)).filter((p) => p.name === 'roomcast:roomcast-test');
    expect(agents).toHaveLength(1);
    await listener.waitForWindow((w) => w.level > 0.01, { since: Date.now() });
    rc.app.send(room, { type: 'stop_continuous_music' });
  });
});

describe('operations endpoints', () => {
  const metric = (text: string, name: string, labels: string) => {
    const selector = labels ? `\\{${labels}\\}` : '';
    return Number(new RegExp(`^${name}${selector} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  };

  it('the bridge serves /healthz and counts commands by type and outcome in /metrics', async () => {
    const health = await fetch(`${rc.bridge.opsUrl}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok']);
    const text = await (await fetch(`${rc.bridge.opsUrl}/metrics`)).text();
    expect(metric(text, 'roomcast_bridge_commands_total', 'command="start_continuous_music",outcome="done"')).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'roomcast_bridge_commands_total', 'command="invalid",outcome="invalid_command"')).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'roomcast_bridge_commands_total', 'command="skip_music",outcome="command_failed"')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'roomcast_bridge_command_seconds_count', 'command="skip_music",stage="done"')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'roomcast_bridge_mqtt_connected', '')).toBe(1);
    // The listener page is off unless enabled.
    expect((await fetch(`${rc.bridge.opsUrl}/listen`)).status).toBe(404);
    expect((await fetch(`${rc.bridge.opsUrl}/api/join?room=r1`)).status).toBe(404);
  });

  it('the agent worker serves the metrics its rooms report', async () => {
    const text = await (await fetch(`${rc.agent.opsUrl}/metrics`)).text();
    expect(metric(text, 'roomcast_agent_commands_total', 'command="start_continuous_music",ok="true"')).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'roomcast_agent_tracks_total', 'source="playlist",outcome="skipped"')).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'roomcast_agent_tracks_total', 'source="playlist",outcome="finished"')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^roomcast_agent_rooms_active \d+$/m);
  });
});

describe('the roomcast CLI', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });

  it('send prints the replies and the state, and exits 0 once the command is done', async () => {
    const room = 'cli-room';
    const listener = await rc.listen(room);
    const run = cli(['send', room, 'start', '--genre', 'rock', '--follow', '1'], { MQTT_URL: rc.broker.url });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/reply {2}accepted/);
    expect(run.stdout).toMatch(/reply {2}done {5}Started continuous music streaming \(rock\)/);
    expect(run.stdout).toMatch(/state {2}\{.*"state":"playing"/);
    await listener.waitForTone(1320);
    const refused = cli(['send', room, 'config', '--bpm', '500'], { MQTT_URL: rc.broker.url });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/field "bpm"/);
    expect(cli(['send', room, 'stop'], { MQTT_URL: rc.broker.url }).status).toBe(0);
  });

  it('token mints a subscribe-only token for one room', () => {
    const run = cli(['token', 'some-room', '--ttl', '15m'], { LIVEKIT_URL: rc.livekit.url, LIVEKIT_API_KEY: 'roomcast-test', LIVEKIT_API_SECRET: API_SECRET });
    expect(run.status, run.stderr).toBe(0);
    const claims = JSON.parse(Buffer.from(run.stdout.trim().split('.')[1] as string, 'base64url').toString()) as { exp: number; nbf: number; video: Record<string, unknown> };
    expect(claims.video).toMatchObject({ room: 'some-room', roomJoin: true, canSubscribe: true, canPublish: false, canPublishData: false });
    expect(claims.exp - claims.nbf).toBe(15 * 60);
    const link = cli(['token', 'some-room', '--join-url'], { LIVEKIT_URL: rc.livekit.url, LIVEKIT_API_KEY: 'roomcast-test', LIVEKIT_API_SECRET: API_SECRET });
    const url = new URL(link.stdout.trim());
    expect([url.origin + url.pathname, url.searchParams.get('liveKitUrl')]).toEqual(['https://meet.livekit.io/custom', rc.livekit.url]);
    expect(url.searchParams.get('token')?.split('.')).toHaveLength(3);
  });

  it('check-catalog decodes every song and names the ones that fail', () => {
    const ok = cli(['check-catalog', rc.env.catalog]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/4 of 4 entries play/);
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-bad-catalog-'));
    const bad = join(dir, 'catalog.json');
    writeFileSync(bad, JSON.stringify([{ id: 'gone', title: 'Gone', url: 'missing.mp3' }, ...rc.songs.slice(0, 1)]));
    const run = cli(['check-catalog', bad]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/FAIL gone .*missing\.mp3/);
    expect(run.stdout).toMatch(/1 of 2 entries play/);
  });
});

describe('Home Assistant', () => {
  it('finds each room of HA_DISCOVERY_ROOMS as a device, and plays it the way Home Assistant sends commands', async () => {
    // Home Assistant's MQTT client: it subscribes to the discovery prefix and renders the entities' templates (Jinja).
    const jinja = new nunjucks.Environment(null, { autoescape: false });
    jinja.addFilter('tojson', (v: unknown) => JSON.stringify(v));
    const ha = await mqtt.connectAsync(rc.broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const configs = new Map<string, Record<string, string | number | string[]>>();
      let received = 0;
      let retained = 0;
      const states: Array<Record<string, unknown>> = [];
      ha.on('message', (topic, payload, packet) => {
        if (topic.startsWith('homeassistant/') && topic.endsWith('/config')) {
          configs.set(topic, JSON.parse(payload.toString()) as Record<string, string>);
          received++;
          if (packet.retain) retained++;
        }
        if (topic === 'roomcast/ha-kitchen/state') states.push(JSON.parse(payload.toString()) as Record<string, unknown>);
      });
      await ha.subscribeAsync(['homeassistant/#', 'roomcast/ha-kitchen/state'], { qos: 1 });
      await waitUntil(() => configs.size === 8, 10_000, 'the discovery of room ha-kitchen');
      expect(retained).toBe(8);
      // Every message as Home Assistant's own discovery schemas take it (its PyPI package, test/harness/haDiscovery.py).
      const checked = spawnSync(HA_PYTHON, ['test/harness/haDiscovery.py'], {
        input: JSON.stringify([...configs].map(([topic, payload]) => ({ topic, payload: JSON.stringify(payload) }))),
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(checked.status, checked.stderr).toBe(0);
      expect(JSON.parse(checked.stdout)).toMatchObject({ checked: 8, problems: [] });
      const config = (component: string, object: string) => configs.get(`homeassistant/${component}/roomcast_ha-kitchen/${object}/config`) as Record<string, string>;
      expect(config('select', 'genre').options).toEqual(expect.arrayContaining(['Any', 'pop']));

      // Home Assistant restarts: its birth message brings the discovery again.
      await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
      await waitUntil(() => received >= 16, 10_000, 'the discovery again after homeassistant/status online');

      // The Music switch, turned on.
      const music = config('switch', 'music');
      const listener = await rc.listen('ha-kitchen');
      const on = Date.now();
      await ha.publishAsync(music.command_topic as string, music.payload_on as string, { qos: 1 });
      await listener.waitForWindow((w) => w.level > 0.01, { since: on, timeoutMs: 20_000, what: 'the music Home Assistant started' });
      await waitUntil(() => states.some((s) => jinja.renderString(music.value_template as string, { value_json: s }).trim() === 'ON'), 10_000, 'the switch to show ON');
      // The Volume number.
      const volume = config('number', 'volume');
      await ha.publishAsync(volume.command_topic as string, jinja.renderString(volume.command_template as string, { value: 30.0 }), { qos: 1 });
      await waitUntil(() => states.some((s) => jinja.renderString(volume.value_template as string, { value_json: s }).trim() === '30'), 10_000, 'the volume to show 30');
      const playing = jinja.renderString(config('sensor', 'now_playing').value_template as string, { value_json: states.at(-1) }).trim();
      expect(playing).toMatch(/^Tone \d+ Hz – Roomcast test$/);
      // Off again.
      await ha.publishAsync(music.command_topic as string, music.payload_off as string, { qos: 1 });
      await waitUntil(() => jinja.renderString(music.value_template as string, { value_json: states.at(-1) }).trim() === 'OFF', 10_000, 'the switch to show OFF');
    } finally {
      await ha.endAsync();
    }
  });
});

describe('when things go away', () => {
  it('an emptied room: the agent leaves, stops its decoders, and the retained state says stopped', async () => {
    const room = 'emptying';
    const { listener, sent: start } = await rc.startIn(room);
    await listener.waitForWindow((w) => w.level > 0.01, { since: start.at });
    const leftAt = Date.now();
    await listener.leave();
    const stopped = await rc.app.waitForState(room, (s) => s.state === 'stopped' && s.agent === false, { since: leftAt, timeoutMs: 15_000 });
    expect(stopped.at - leftAt).toBeGreaterThanOrEqual(3_000);
    await rc.agent.waitFor(/room empty: leaving/, 1_000);
    await rc.agent.waitFor(new RegExp(`"room":"${room}"[^\\n]*"msg":"left room"`), 5_000);
    // Every decoder the room started (their pids are in its log lines) is gone; the host process
    // that played it goes on with its other rooms.
    const lines = rc.agent
      .output()
      .split('\n')
      .filter((l) => l.includes(`"room":"${room}"`) && l.includes('"msg":"decoder started"'));
    const decoders = lines.map((l) => (JSON.parse(l.slice(l.indexOf('{'))) as { decoderPid: number }).decoderPid);
    expect(decoders.length).toBeGreaterThan(0);
    await waitFor(() => decoders.every((pid) => processTree(pid).length === 0), "the room's decoders to exit", 10_000);
  });

  it('a Mosquitto restart: the bridge reconnects and commands flow again', async () => {
    const room = 'after-broker-restart';
    const listener = await rc.listen(room);
    const restartedAt = Date.now();
    await rc.broker.restart(500);
    await rc.bridge.waitFor(/mqtt connected/, 15_000);
    // "mqtt connected" comes before the bridge's subscriptions are back (mqtt.js renews them after
    // CONNACK), and a command published before that reaches no one (a clean session; apps resend
    // with a request_id). The bridge is back once it answers: asked until it does.
    for (let asked = 0; ; asked++) {
      const probe = rc.app.send(room, { type: 'get_music_status' }, 1_000);
      if (
        await probe.final.then(
          () => true,
          () => false,
        )
      )
        break;
      if (asked === 15) throw new Error('the bridge did not answer after the broker restart');
    }
    // The app's client reconnects by itself and resubscribes; its command goes through.
    const sent = rc.app.send(room, { type: 'start_continuous_music', genre: 'rock' });
    expect(await sent.final).toMatchObject({ status: 'done', ok: true });
    await listener.waitForTone(1320, { since: sent.at });
    console.log(`broker restart → music again: ${Date.now() - restartedAt} ms`);
    rc.app.send(room, { type: 'stop_continuous_music' });
  });

  it('a bridge that dies is announced offline by its Last Will', async () => {
    const service = () => rc.app.bridgeStates.get('roomcast/bridge/state');
    await waitFor(() => service()?.state === 'online' && service()?.replicas?.length === 1, 'the bridge online');
    rc.bridge.child.kill('SIGKILL');
    await waitFor(() => service()?.state === 'offline', 'the bridge offline');
  });
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
