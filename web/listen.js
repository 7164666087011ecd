// The Roomcast listener page: joins a room with livekit-client, plays the `music` track, shows the
// agent's state (participant attribute `roomcast.state`) and events (`music_control` data), and
// sends commands through the bridge (POST /api/command).
'use strict';

const { Room, RoomEvent, Track } = LivekitClient;
const STATE_ATTRIBUTE = 'roomcast.state';
const MUSIC_CONTROL_TOPIC = 'music_control';
const $ = (id) => document.getElementById(id);

let room;
let analysis;
// ?log=debug shows what livekit-client does in the browser console.
LivekitClient.setLogLevel(new URLSearchParams(location.search).get('log') ?? 'warn');

$('room').value = new URLSearchParams(location.search).get('room') ?? '';
$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  join($('room').value.trim()).catch((err) => setStatus(`Could not join: ${err.message}`, true));
});
$('leave').addEventListener('click', () => leave());
for (const button of document.querySelectorAll('[data-command]')) {
  button.addEventListener('click', () => send({ type: button.dataset.command }));
}

async function join(name) {
  await leave();
  setStatus(`Joining ${name}…`);
  const res = await fetch(`/api/join?room=${encodeURIComponent(name)}`);
  const grant = await res.json();
  if (!res.ok) throw new Error(grant.error);
  room = new Room();
  room.on(RoomEvent.TrackSubscribed, (track) => track.kind === Track.Kind.Audio && play(track));
  room.on(RoomEvent.ParticipantAttributesChanged, showAgentState);
  room.on(RoomEvent.ParticipantConnected, showAgentState);
  room.on(RoomEvent.DataReceived, (payload, participant, kind, topic) => topic === MUSIC_CONTROL_TOPIC && logEvent(payload));
  room.on(RoomEvent.Disconnected, () => setStatus('Disconnected.'));
  await room.connect(grant.url, grant.token);
  setStatus(`In room ${name} as ${room.localParticipant.identity}.`);
  showAgentState();
  setJoined(true);
}

async function leave() {
  analysis?.stop();
  analysis = undefined;
  await room?.disconnect();
  room = undefined;
  setJoined(false);
}

/**
 * Plays the track and measures it: level and dominant frequency, as a test or a person checks it.
 * The agent unpublishes its track while the music is paused or stopped and publishes a new one
 * when it comes back: the new track replaces the old one here.
 */
function play(track) {
  analysis?.stop();
  const element = track.attach();
  document.body.appendChild(element);
  const context = new AudioContext();
  void context.resume();
  const source = context.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  source.connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    const rms = Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
    analyser.getFloatFrequencyData(bins);
    let peak = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[peak]) peak = i;
    const hz = (peak * context.sampleRate) / analyser.fftSize;
    $('level').textContent = rms > 0.001 ? `level ${rms.toFixed(3)}` : 'silence';
    $('frequency').textContent = rms > 0.001 ? `${Math.round(hz)} Hz` : '—';
    $('frequency').dataset.hz = rms > 0.001 ? String(hz) : '';
  }, 200);
  analysis = { stop: () => (clearInterval(timer), void context.close(), element.remove()) };
}

function showAgentState() {
  const agent = [...(room?.remoteParticipants.values() ?? [])].find((p) => p.attributes[STATE_ATTRIBUTE]);
  if (!agent) return;
  const state = JSON.parse(agent.attributes[STATE_ATTRIBUTE]);
  const track = state.track;
  $('now').textContent = track ? `${track.title}${track.artist ? ` — ${track.artist}` : ''}` : '—';
  $('now').dataset.trackId = track?.id ?? '';
  $('state').textContent = state.state ?? '—';
  $('source').textContent = state.source ?? '—';
  $('volume').textContent = state.volume ?? '—';
}

function logEvent(payload) {
  const message = JSON.parse(new TextDecoder().decode(payload));
  const line = document.createElement('div');
  const what = message.track ? ` ${message.track.title}` : '';
  line.textContent = `${new Date().toLocaleTimeString()} ${message.type}${what}${message.reason ? ` (${message.reason})` : ''}${message.message ? `: ${message.message}` : ''}`;
  $('events').prepend(line);
}

async function send(command) {
  const name = room?.name;
  if (!name) return;
  $('reply').textContent = `${command.type}…`;
  $('reply').className = '';
  const res = await fetch(`/api/command?room=${encodeURIComponent(name)}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(command) });
  const reply = await res.json();
  $('reply').textContent = reply.message ?? reply.error ?? res.statusText;
  $('reply').className = reply.ok ? '' : 'error';
}

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

function setJoined(joined) {
  $('join').disabled = joined;
  $('leave').disabled = !joined;
  for (const button of document.querySelectorAll('[data-command]')) button.disabled = !joined;
}
