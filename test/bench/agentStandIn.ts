/**
 * A stand-in for the rooms' agents in the bridge figure, so that the bridge is measured, not the
 * agents on the same two cores: one rtc-node process joins every room as a participant with the
 * Roomcast agent attribute, and answers packets as the agent does for the bridge (receipts and
 * confirmations in its attributes), with a track it sends nothing on (the bridge replaces an agent without one).
 * Prints "ready" once in every room.
 *   node dist/test/bench/agentStandIn.js '{"url":"ws://…","apiKey":"…","apiSecret":"…","agentName":"…","rooms":["r1"]}'
 */
import { AudioSource, LocalAudioTrack, Room, RoomEvent, TrackPublishOptions, TrackSource } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { parseCommandPacket } from '../../src/protocol/commands.js';
import { AttributeUpdates } from '../../src/agent/attributeUpdates.js';
import { ATTRIBUTES_DELAY_MS } from '../../src/agent/roomSession.js';
import { AGENT_ATTRIBUTE, BRIDGE_READ_INTERVAL_MS, CONFIRMATION_TYPE, MAX_PACKET_BYTES, MUSIC_CONTROL_TOPIC, RECEIVED_ATTRIBUTE, RECEIVED_KEPT, RESULTS_ATTRIBUTE, RESULTS_KEPT, STATE_ATTRIBUTE } from '../../src/protocol/messages.js';

interface StandInSpec {
  url: string;
  apiKey: string;
  apiSecret: string;
  agentName: string;
  rooms: string[];
}

const spec = JSON.parse(process.argv[2] ?? '{}') as StandInSpec;

async function standIn(name: string): Promise<Room> {
  const token = new AccessToken(spec.apiKey, spec.apiSecret, { identity: `agent-stand-in-${name}` });
  token.addGrant({ room: name, roomJoin: true, canSubscribe: false, canPublish: true, canPublishData: true, canUpdateOwnMetadata: true });
  const room = new Room();
  const results: string[] = [];
  const received: string[] = [];
  // As the agent does (roomSession.ts): updates coalesced the same way.
  const updates = new AttributeUpdates<'all'>(async () => {
    await room.localParticipant?.setAttributes({ [RECEIVED_ATTRIBUTE]: JSON.stringify(received), [RESULTS_ATTRIBUTE]: `[${results.join(',')}]` });
  }, ATTRIBUTES_DELAY_MS, BRIDGE_READ_INTERVAL_MS);
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
  const track = LocalAudioTrack.createAudioTrack('music', new AudioSource(48_000, 2));
  await room.localParticipant?.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
  await room.localParticipant?.setAttributes({ [AGENT_ATTRIBUTE]: spec.agentName, [STATE_ATTRIBUTE]: JSON.stringify({ state: 'paused', source: 'playlist' }) });
  return room;
}

const rooms = await Promise.all(spec.rooms.map(standIn));
console.log('ready');
process.on('SIGTERM', () => {
  void Promise.all(rooms.map((r) => r.disconnect())).finally(() => process.exit(0));
});
