import { readFileSync, readdirSync } from 'node:fs';
import { AccessToken } from 'livekit-server-sdk';
import { AudioSource, LocalAudioTrack, Room, TrackPublishOptions, TrackSource, AudioFrame } from '@livekit/rtc-node';
import { startLiveKit, API_KEY, API_SECRET } from '../test/harness/stack.js';

const N = Number(process.env.N ?? 10);
function threads(pid: number) {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const raw = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')'));
      const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * 10);
    } catch {}
  }
  return out;
}
async function measure(label: string) {
  const a = threads(process.pid);
  await new Promise((r) => setTimeout(r, 5000));
  const b = threads(process.pid);
  const parts = [...b].map(([k, v]) => [k, (v - (a.get(k) ?? 0)) / 5] as const).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
  const total = parts.reduce((s, [, v]) => s + v, 0);
  console.log(label, 'total ms/s', total, 'per room', (total / N).toFixed(1), JSON.stringify(parts.slice(0, 8)));
}
const lk = await startLiveKit();
if (process.env.NO_CAPTURE) {
  const { livekitInitialize, FfiEvent } = await import('@livekit/rtc-ffi-bindings');
  const { FfiClient } = await import('@livekit/rtc-node/dist/ffi_client.js' as string).catch(() => ({ FfiClient: undefined })) as any;
  const s0 = new AudioSource(48000, 2, 20); // creates the client
  const client = (globalThis as any)._ffiClientInstance;
  livekitInitialize((data: Uint8Array) => client.emit('ffi_event', FfiEvent.fromBinary(data)), false, 'roomcast');
  console.log('re-initialized without log capture', !!client, !!FfiClient);
}
const rooms: Room[] = [];
await measure('baseline');
for (let i = 0; i < N; i++) {
  const t = new AccessToken(API_KEY, API_SECRET, { identity: `p${i}` });
  t.addGrant({ room: `r${i}`, roomJoin: true, canPublish: true, canSubscribe: true });
  const room = new Room();
  await room.connect(lk.url, await t.toJwt(), { autoSubscribe: false, dynacast: false });
  rooms.push(room);
}
await measure('connected, no track');
const sources: AudioSource[] = [];
const sids: string[] = [];
const tracks: LocalAudioTrack[] = [];
for (const room of rooms) {
  const s = new AudioSource(48000, 2, 20);
  const track = LocalAudioTrack.createAudioTrack('music', s);
  const pub = await room.localParticipant!.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE, dtx: false, red: false }));
  sources.push(s); sids.push(pub.sid!); tracks.push(track);
}
await measure('published, nothing captured');
let run = true;
const frame = () => new AudioFrame(new Int16Array(1920 * 2).map((_, i) => Math.round(3000 * Math.sin(i / 20))), 48000, 2, 1920);
for (const s of sources) void (async () => { while (run) await s.captureFrame(frame()); })();
await measure('playing 40 ms captures');
run = false;
await new Promise((r) => setTimeout(r, 500));
for (let i = 0; i < rooms.length; i++) { await rooms[i]!.localParticipant!.unpublishTrack(sids[i]!, true); if (process.env.CLOSE_TRACK) await tracks[i]!.close(true); else await sources[i]!.close(); }
const counts = new Map<string, number>();
const samples: string[] = [];
const onEv = (ev: any) => { if (ev.message.case === 'logs' && samples.length < 6) samples.push(JSON.stringify(ev.message.value.records?.slice(0,2), (_k, v) => typeof v === 'bigint' ? String(v) : v).slice(0, 300)); const k = ev.message.case === 'roomEvent' ? 'room:' + ev.message.value.message.case : ev.message.case; counts.set(k, (counts.get(k) ?? 0) + 1); };
(globalThis as any)._ffiClientInstance.on('ffi_event', onEv);
await measure('unpublished again');
console.log('ffi events in 5 s', JSON.stringify([...counts]), samples.join('\n'));
await measure('unpublished, 5 s later');
for (const r of rooms) await r.disconnect();
await measure('disconnected');
await measure('disconnected, 5 s later');
await lk.proc.stop();
process.exit(0);
