/**
 * A stand-in for the rooms' agents in the bridge figure, so that the bridge is measured, not the
 * agents on the same two cores: one rtc-node process joins every room as a participant with the
 * Roomcast agent attribute, and answers packets as the agent does for the bridge (receipts and
 * confirmations in its attributes), with a track it sends nothing on (the bridge replaces an agent without one).
 * With `reportTo`, it also reports each room over MQTT as a host process does (agent/reportLink.ts:
 * a report per change, its worker's presence every 10 s); with `track: false` it publishes no track
 * (a paused agent has none). Prints "ready" once in every room.
 *   node dist/test/bench/agentStandIn.js '{"url":"ws://…","apiKey":"…","apiSecret":"…","agentName":"…","rooms":["r1"]}'
 */
import { AudioSource, LocalAudioTrack, Room, RoomEvent, TrackPublishOptions, TrackSource } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { parseCommandPacket } from '../../src/protocol/commands.js';
import { AttributeUpdates } from '../../agent/attributeUpdates.js';
import { ATTRIBUTES_DELAY_MS } from '../../agent/roomSession.js';
import { stopNativeLogCapture } from '../../agent/nativeLogs.js';
import mqtt from 'mqtt';
import { encodeReport, WORKER_HEARTBEAT_MS } from '../../src/protocol/agentReports.js';
import { Topics } from '../../src/protocol/topics.js';
import {
  AGENT_ATTRIBUTE,
  BRIDGE_READ_INTERVAL_MS,
  CONFIRMATION_TYPE,
  MAX_PACKET_BYTES,
  MUSIC_CONTROL_TOPIC,
  RECEIVED_ATTRIBUTE,
  RECEIVED_KEPT,
  RESULTS_ATTRIBUTE,
  RESULTS_KEPT,
  STATE_ATTRIBUTE,
} from '../../src/protocol/messages.js';

interface StandInSpec {
  url: string;
  apiKey: string;
  apiSecret: string;
  agentName: string;
  rooms: string[];
  reportTo?: { url: string; baseTopic: string };
  track?: boolean;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as StandInSpec;
const worker = `stand-in-${process.pid}`;
const topics = new Topics(spec.reportTo?.baseTopic ?? 'roomcast');
const reports = spec.reportTo
  ? await mqtt.connectAsync(spec.reportTo.url, { protocolVersion: 5, will: { topic: topics.workerState(worker), payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: false } })
  : undefined;
const STATE = JSON.stringify({ state: 'paused', source: 'playlist' });
if (reports) {
  const announce = () => reports.publish(topics.workerState(worker), JSON.stringify({ state: 'online', rooms: spec.rooms.length }), { qos: 1 });
  announce();
  setInterval(announce, WORKER_HEARTBEAT_MS);
}

async function standIn(name: string): Promise<Room> {
  const token = new AccessToken(spec.apiKey, spec.apiSecret, { identity: `agent-stand-in-${name}` });
  token.addGrant({ room: name, roomJoin: true, canSubscribe: false, canPublish: true, canPublishData: true, canUpdateOwnMetadata: true });
  const room = new Room();
  const results: string[] = [];
  const received: string[] = [];
  // As the agent does (roomSession.ts): updates coalesced the same way.
  const report = () =>
    reports?.publish(
      topics.agentReport(name),
      encodeReport({ worker, identity: `agent-stand-in-${name}`, present: true, listeners: 0, stateJson: STATE, resultsJson: `[${results.join(',')}]`, receivedJson: JSON.stringify(received) }),
      { qos: 1 },
    );
  const updates = new AttributeUpdates<'all'>(
    async () => {
      report();
      await room.localParticipant?.setAttributes({ [RECEIVED_ATTRIBUTE]: JSON.stringify(received), [RESULTS_ATTRIBUTE]: `[${results.join(',')}]` });
    },
    ATTRIBUTES_DELAY_MS,
    BRIDGE_READ_INTERVAL_MS,
  );
  room.on(RoomEvent.DataReceived, (payload, participant, _kind, topic) => {
    if (topic !== MUSIC_CONTROL_TOPIC || participant) return;
    for (const parsed of parseCommandPacket(payload, MAX_PACKET_BYTES)) {
      if (!parsed.ok || !parsed.command.request_id) continue;
      received.push(parsed.command.request_id);
      results.push(JSON.stringify({ type: CONFIRMATION_TYPE[parsed.command.type], ok: true, message: 'applied', request_id: parsed.command.request_id }));
    }
    received.splice(0, received.length - RECEIVED_KEPT);
    results.splice(0, results.length - RESULTS_KEPT);
    updates.changed('all');
  });
  await room.connect(spec.url, await token.toJwt(), { autoSubscribe: false, dynacast: false });
  // As the host processes do: rtc-node's native log records are not forwarded to JavaScript.
  stopNativeLogCapture();
  if (spec.track !== false) {
    const track = LocalAudioTrack.createAudioTrack('music', new AudioSource(48_000, 2));
    await room.localParticipant?.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
  }
  await room.localParticipant?.setAttributes({ [AGENT_ATTRIBUTE]: spec.agentName, [STATE_ATTRIBUTE]: STATE });
  report();
  return room;
}

/**
 * Joins again after a failed join: under a hundred joins at once on two cores, rtc-node 0.13 can
 * fail one ("handle not found" for the room's ReadyForRoomEvent).
 */
async function joined(name: string): Promise<Room> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await standIn(name);
    } catch (err) {
      if (attempt === 3) throw err;
      console.error(`join of ${name} failed (${(err as Error).message}); again`);
    }
  }
}

// In batches: a thousand joins at once would time out in the server.
const rooms: Room[] = [];
for (let i = 0; i < spec.rooms.length; i += 10) rooms.push(...(await Promise.all(spec.rooms.slice(i, i + 10).map(joined))));
console.log('ready');
process.on('SIGTERM', () => {
  void Promise.all(rooms.map((r) => r.disconnect())).finally(() => process.exit(0));
});
