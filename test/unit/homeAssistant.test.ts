/**
 * Home Assistant discovery payloads: what Home Assistant would send through each entity (its
 * command payloads and templates, rendered by a Jinja engine as Home Assistant renders them) is a
 * command the bridge accepts, and what each entity shows is read right from a room's state.
 */
import nunjucks from 'nunjucks';
import { describe, expect, it } from 'vitest';
import { ANY_GENRE, HomeAssistantDiscovery, discoveryMessages, nodeIdOf, type DiscoveryMessage } from '../../bridge/homeAssistant.js';
import { parseCommand } from '../../src/protocol/commands.js';
import { Topics } from '../../src/protocol/topics.js';

const topics = new Topics('roomcast');
const options = { prefix: 'homeassistant', rooms: ['kitchen', 'kids.room'], genres: ['Pop', 'Rock & Roll'], version: '1.2.3' };
const jinja = new nunjucks.Environment(null, { autoescape: false });
jinja.addFilter('tojson', (v: unknown) => JSON.stringify(v));
const render = (template: string, context: object) => jinja.renderString(template, context).trim();

type Config = Record<string, unknown> & { device: { identifiers: string[] }; unique_id: string };
const configs = (messages: DiscoveryMessage[]) => messages.map((m) => ({ topic: m.topic, config: JSON.parse(m.payload) as Config }));
const entity = (room: string, object: string) =>
  configs(discoveryMessages(topics, options)).find((c) => c.topic === `homeassistant/${c.topic.split('/')[1]}/${nodeIdOf(room)}/${object}/config`)?.config as Config;

const PLAYING = { source: 'playlist', state: 'playing', filter: { genre: 'Pop' }, track: { id: 's1', title: 'Morning', artist: 'Band' }, volume: 80 };
const STOPPED = { state: 'stopped', volume: 100 };

describe('Home Assistant discovery', () => {
  it('makes each room a device of switch, buttons, number, sensor and select, on per-component topics', () => {
    const all = configs(discoveryMessages(topics, options));
    expect(all.map((c) => c.topic).filter((t) => t.includes('/roomcast_kitchen/'))).toEqual([
      'homeassistant/switch/roomcast_kitchen/music/config',
      'homeassistant/button/roomcast_kitchen/skip/config',
      'homeassistant/button/roomcast_kitchen/previous/config',
      'homeassistant/button/roomcast_kitchen/pause/config',
      'homeassistant/button/roomcast_kitchen/resume/config',
      'homeassistant/number/roomcast_kitchen/volume/config',
      'homeassistant/sensor/roomcast_kitchen/now_playing/config',
      'homeassistant/select/roomcast_kitchen/genre/config',
    ]);
    // A session id's "." is not allowed in a discovery topic.
    expect(all.some((c) => c.topic === 'homeassistant/switch/roomcast_kids_room/music/config')).toBe(true);
    expect(new Set(all.map((c) => c.config.unique_id)).size).toBe(all.length);
    for (const { config } of all) {
      expect(config).toMatchObject({ availability_topic: 'roomcast/bridge/state', qos: 1, origin: { name: 'Roomcast', sw_version: '1.2.3' } });
      expect(config.device.identifiers).toHaveLength(1);
    }
    expect(entity('kitchen', 'music')).toMatchObject({ command_topic: 'roomcast/kitchen/command', state_topic: 'roomcast/kitchen/state' });
  });

  it('sends only commands the bridge accepts', () => {
    const sent = [
      entity('kitchen', 'music').payload_on,
      entity('kitchen', 'music').payload_off,
      ...['skip', 'previous', 'pause', 'resume'].map((b) => entity('kitchen', b).payload_press),
      render(entity('kitchen', 'volume').command_template as string, { value: 42.0 }),
      render(entity('kitchen', 'genre').command_template as string, { value: 'Rock & Roll' }),
      render(entity('kitchen', 'genre').command_template as string, { value: ANY_GENRE }),
    ] as string[];
    const parsed = sent.map((payload) => parseCommand(payload));
    for (const [i, p] of parsed.entries()) expect(p.ok, sent[i]).toBe(true);
    // (The schema's default source for a start: the playlist.)
    expect(parsed.map((p) => (p.ok ? p.command : undefined))).toEqual([
      { type: 'start_continuous_music', source: 'playlist' },
      { type: 'stop_continuous_music' },
      { type: 'skip_music' },
      { type: 'previous_music' },
      { type: 'pause_music' },
      { type: 'resume_music' },
      { type: 'set_volume', volume: 42 },
      { type: 'start_continuous_music', source: 'playlist', genre: 'Rock & Roll' },
      { type: 'start_continuous_music', source: 'playlist' },
    ]);
  });

  it("shows the room's state", () => {
    const show = (object: string, state: object) => render(entity('kitchen', object).value_template as string, { value_json: state });
    expect([show('music', PLAYING), show('music', { ...PLAYING, state: 'paused' }), show('music', STOPPED)]).toEqual(['ON', 'ON', 'OFF']);
    expect([show('volume', PLAYING), show('volume', STOPPED), show('volume', { state: 'stopped' })]).toEqual(['80', '100', '100']);
    const station = { ...PLAYING, track: { id: 'r', title: 'Radio One', live: true, stream_title: 'Artist - Song' } };
    expect([show('now_playing', PLAYING), show('now_playing', { ...PLAYING, track: { id: 'x', title: 'Solo' } }), show('now_playing', station), show('now_playing', STOPPED)]).toEqual([
      'Morning – Band',
      'Solo',
      'Radio One – Artist - Song',
      'Nothing',
    ]);
    expect([show('genre', PLAYING), show('genre', { ...PLAYING, filter: {} }), show('genre', { ...PLAYING, filter: { genre: 'jazz' } }), show('genre', STOPPED)]).toEqual([
      'Pop',
      ANY_GENRE,
      ANY_GENRE,
      ANY_GENRE,
    ]);
    expect(entity('kitchen', 'genre').options).toEqual([ANY_GENRE, 'Pop', 'Rock & Roll']);
  });

  it('has no Genre select without genres', () => {
    expect(discoveryMessages(topics, { ...options, genres: [] }).some((m) => m.topic.includes('/select/'))).toBe(false);
  });

  it('publishes again when Home Assistant says it is online, and only then', async () => {
    const published: string[] = [];
    const discovery = new HomeAssistantDiscovery(topics, { ...options, rooms: ['kitchen'] }, async (m) => published.push(m.topic));
    // Its status topic is recognised either way; only `online` asks for discovery again.
    expect(discovery.cameOnline('homeassistant/status', Buffer.from('offline'))).toBe(false);
    expect(discovery.cameOnline('roomcast/kitchen/state', Buffer.from('online'))).toBeUndefined();
    expect(published).toEqual([]);
    expect(discovery.cameOnline('homeassistant/status', Buffer.from('online'))).toBe(true);
    expect(await discovery.announce()).toBe(8);
    expect(published).toHaveLength(8);
  });
});
