/**
 * Home Assistant MQTT discovery: each room of HA_DISCOVERY_ROOMS appears in Home Assistant as a
 * device (Home Assistant has no MQTT media player, so a music controller is switches, buttons, a
 * number, a select and a sensor, the convention zigbee2mqtt users know). The bridge publishes one
 * retained config per entity, on Home Assistant's per-component topics
 * (`<prefix>/<component>/roomcast_<room>/<object>/config`, understood by every Home Assistant
 * version with MQTT discovery), again whenever Home Assistant announces itself
 * (`<prefix>/status` = `online`).
 *
 * Home Assistant publishes straight onto `<base>/<room>/command` through the entities' command
 * payloads and templates, so what it sends is an app's command: the same validation, ACL, rate
 * limit and replies. It reads the room's retained state and the bridge service's availability.
 */
import type { Topics } from '../src/protocol/topics.js';

export interface HomeAssistantOptions {
  /** Discovery prefix (Home Assistant's default: `homeassistant`). */
  prefix: string;
  rooms: string[];
  /** The catalog's genres, for the Genre select (none: no select). */
  genres: string[];
  version: string;
}

export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

/** The Genre select's choice that starts music without a genre filter. */
export const ANY_GENRE = 'Any';

/** Home Assistant's discovery topics take `[a-zA-Z0-9_-]` only; a session id may have `.:@` too. */
export const nodeIdOf = (room: string): string => `roomcast_${room.replace(/[^a-zA-Z0-9_-]/g, '_')}`;

const command = (type: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type, ...extra });

/** Every discovery message for the rooms: one retained config per entity. */
export function discoveryMessages(topics: Topics, options: HomeAssistantOptions): DiscoveryMessage[] {
  return options.rooms.flatMap((room) => roomEntities(topics, options, room));
}

function roomEntities(topics: Topics, options: HomeAssistantOptions, room: string): DiscoveryMessage[] {
  const node = nodeIdOf(room);
  const shared = {
    device: { identifiers: [node], name: `Roomcast ${room}`, manufacturer: 'Roomcast', model: 'Music for LiveKit rooms', sw_version: options.version },
    origin: { name: 'Roomcast', sw_version: options.version },
    availability_topic: topics.bridgeService,
    availability_template: '{{ value_json.state }}',
    qos: 1,
  };
  const entity = (component: string, object: string, config: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${options.prefix}/${component}/${node}/${object}/config`,
    payload: JSON.stringify({ ...config, unique_id: `${node}_${object}`, ...shared }),
  });
  const commandTopic = topics.command(room);
  const stateTopic = topics.state(room);
  const button = (object: string, name: string, type: string, icon: string) => entity('button', object, { name, icon, command_topic: commandTopic, payload_press: command(type) });
  const entities = [
    entity('switch', 'music', {
      name: 'Music',
      icon: 'mdi:music',
      command_topic: commandTopic,
      payload_on: command('start_continuous_music'),
      payload_off: command('stop_continuous_music'),
      state_topic: stateTopic,
      value_template: "{{ 'ON' if value_json.state in ['playing', 'paused'] else 'OFF' }}",
      state_on: 'ON',
      state_off: 'OFF',
    }),
    button('skip', 'Skip', 'skip_music', 'mdi:skip-next'),
    button('previous', 'Previous', 'previous_music', 'mdi:skip-previous'),
    button('pause', 'Pause', 'pause_music', 'mdi:pause'),
    button('resume', 'Resume', 'resume_music', 'mdi:play'),
    entity('number', 'volume', {
      name: 'Volume',
      icon: 'mdi:volume-high',
      command_topic: commandTopic,
      command_template: '{"type":"set_volume","volume":{{ value | int }}}',
      state_topic: stateTopic,
      value_template: '{{ value_json.volume if value_json.volume is defined else 100 }}',
      min: 0,
      max: 100,
      step: 1,
      mode: 'slider',
      unit_of_measurement: '%',
    }),
    entity('sensor', 'now_playing', {
      name: 'Now playing',
      icon: 'mdi:music-note',
      state_topic: stateTopic,
      value_template:
        "{% set t = value_json.track if value_json.track is defined and value_json.track else none %}{{ (t.title ~ (' – ' ~ t.stream_title if t.stream_title is defined and t.stream_title else (' – ' ~ t.artist if t.artist is defined and t.artist else ''))) if t and value_json.state in ['playing', 'paused'] else 'Nothing' }}",
    }),
  ];
  if (options.genres.length > 0) {
    entities.push(
      entity('select', 'genre', {
        name: 'Genre',
        icon: 'mdi:playlist-music',
        command_topic: commandTopic,
        command_template: `{% if value == '${ANY_GENRE}' %}${command('start_continuous_music')}{% else %}{"type":"start_continuous_music","genre":{{ value | tojson }}}{% endif %}`,
        state_topic: stateTopic,
        value_template: `{{ value_json.filter.genre if value_json.filter is defined and value_json.filter.genre is defined and value_json.filter.genre in ${JSON.stringify(options.genres)} else '${ANY_GENRE}' }}`,
        options: [ANY_GENRE, ...options.genres],
      }),
    );
  }
  return entities;
}

/**
 * Publishes the discovery messages when the bridge connects and when Home Assistant comes online.
 */
export class HomeAssistantDiscovery {
  constructor(
    private readonly topics: Topics,
    private readonly options: HomeAssistantOptions,
    private readonly publish: (message: DiscoveryMessage) => Promise<unknown>,
  ) {}

  /** The rooms announced. */
  get rooms(): readonly string[] {
    return this.options.rooms;
  }

  /** Home Assistant's birth message topic: the bridge subscribes to it. */
  get statusTopic(): string {
    return `${this.options.prefix}/status`;
  }

  async announce(): Promise<number> {
    const messages = discoveryMessages(this.topics, this.options);
    await Promise.all(messages.map((m) => this.publish(m)));
    return messages.length;
  }

  /**
   * Home Assistant's status message: whether it says Home Assistant came online (then discovery is
   * to be published again); undefined for any other topic.
   */
  cameOnline(topic: string, payload: Buffer): boolean | undefined {
    return topic === this.statusTopic ? payload.toString().trim() === 'online' : undefined;
  }
}
