// The Roomcast player page: joins a room with livekit-client, plays the `music` track at a volume
// of the listener's own, shows the agent's state (participant attribute `roomcast.state`: the song
// and its progress, what plays next, Lyria's prompts, ducking) and events (`music_control` data),
// and sends commands through the bridge (POST /api/command), which serves this page.
'use strict';

const { Room, RoomEvent, Track } = LivekitClient;
const STATE_ATTRIBUTE = 'roomcast.state';
const MUSIC_CONTROL_TOPIC = 'music_control';
/** How often the page asks whether the bridge is still there (ms). */
const HEALTH_EVERY_MS = 3000;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let room;
let analysis;
/** The agent's last state, and when it arrived here (for the progress between two states). */
let state;
let stateAt = 0;
let bridgeOnline = true;
// ?log=debug shows what livekit-client does in the browser console.
LivekitClient.setLogLevel(params.get('log') ?? 'warn');

$('room').value = params.get('room') ?? '';
$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  join($('room').value.trim()).catch((err) => setStatus(`Could not join: ${err.message}`, true));
});
$('leave').addEventListener('click', () => leave());
for (const button of document.querySelectorAll('[data-command]')) {
  button.addEventListener('click', () => send({ type: button.dataset.command }));
}
$('start').addEventListener('click', () => send(startCommand()));
$('source').addEventListener('change', showStartChoices);
$('room-volume').addEventListener('change', () => send({ type: 'set_volume', volume: Number($('room-volume').value) }));
$('room-volume').addEventListener('input', () => ($('room-volume-value').textContent = $('room-volume').value));
$('my-volume').value = localStorage.getItem('roomcast.myVolume') ?? '100';
$('my-volume').addEventListener('input', applyMyVolume);
applyMyVolume();
setInterval(showProgress, 250);
watchBridge();
loadCatalog();

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
  room.on(RoomEvent.ParticipantDisconnected, showAgentState);
  room.on(RoomEvent.DataReceived, (payload, participant, kind, topic) => topic === MUSIC_CONTROL_TOPIC && logEvent(payload));
  room.on(RoomEvent.Disconnected, () => {
    setStatus('Disconnected.');
    setJoined(false);
  });
  await room.connect(grant.url, grant.token);
  setStatus(`In room ${name}.`);
  setJoined(true);
  showAgentState();
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
  element.id = 'music';
  document.body.appendChild(element);
  applyMyVolume();
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

/** The listener's own volume: this page's audio element only, at once, remembered here. */
function applyMyVolume() {
  const value = $('my-volume').value;
  $('my-volume-value').textContent = value;
  localStorage.setItem('roomcast.myVolume', value);
  const element = $('music');
  if (element) element.volume = Number(value) / 100;
}

function musicAgent() {
  return [...(room?.remoteParticipants.values() ?? [])].find((p) => p.attributes[STATE_ATTRIBUTE]);
}

function showAgentState() {
  const agent = musicAgent();
  state = agent ? JSON.parse(agent.attributes[STATE_ATTRIBUTE]) : undefined;
  stateAt = performance.now();
  const playing = state && state.state !== 'stopped';
  const track = playing ? state.track : undefined;
  $('now').textContent = track ? track.title : state?.source === 'lyria' && playing ? 'Lyria RealTime' : '—';
  $('now').dataset.trackId = track?.id ?? '';
  $('artist').textContent = track?.artist ?? '';
  $('stream-title').hidden = !track?.stream_title;
  $('stream-title').textContent = track?.stream_title ?? '';
  $('live').hidden = !track?.live;
  $('state').textContent = state?.state ?? '—';
  $('source-name').textContent = state?.source ?? '—';
  $('playing').hidden = !playing;

  // Nothing to hear: say why, and what to do.
  const message = !room
    ? ''
    : !agent
      ? 'Nothing plays in this room yet. Choose what to play and press Start.'
      : !playing
        ? `The music is stopped${state.error ? ` (${state.error})` : ''}. Press Start to play.`
        : state.state === 'paused'
          ? 'The music is paused.'
          : '';
  $('message').hidden = !message;
  $('message').textContent = message;

  const next = state?.next;
  $('next').hidden = !playing || !next;
  $('next').textContent = next ? `Up next: ${next.title}${next.artist ? ` — ${next.artist}` : ''}` : '';

  const prompts = playing && state.source === 'lyria' ? (state.prompts ?? []) : [];
  $('prompts').hidden = prompts.length === 0;
  $('prompts').replaceChildren(
    ...prompts.map((p) => {
      const item = document.createElement('li');
      item.textContent = p.weight !== undefined && p.weight !== 1 ? `${p.text} (${p.weight})` : p.text;
      return item;
    }),
  );

  const ducking = state?.ducking;
  $('ducking').hidden = !playing || !ducking?.active;
  $('ducking').className = `badge${ducking?.active ? ' ducked' : ''}`;
  $('ducking').textContent = ducking?.active ? (ducking.mode === 'pause' ? 'Paused for a voice' : `Voice speaking: music ${Math.abs(ducking.depth_db)} dB down`) : '';

  if (typeof state?.volume === 'number' && document.activeElement !== $('room-volume')) {
    $('room-volume').value = String(state.volume);
    $('room-volume-value').textContent = String(state.volume);
  }
  showProgress();
  showCommands();
}

/** Elapsed and length of the song; between two states the page counts on while it plays. */
function showProgress() {
  const track = state?.state !== 'stopped' ? state?.track : undefined;
  const known = track && typeof state.position_ms === 'number' && !track.live;
  $('progress').hidden = !known;
  if (!known) return;
  const position = state.position_ms + (state.state === 'playing' ? performance.now() - stateAt : 0);
  const duration = track.duration_ms;
  const shown = duration ? Math.min(position, duration) : position;
  $('elapsed').textContent = clock(shown);
  $('elapsed').dataset.ms = String(Math.round(shown));
  $('duration').textContent = duration ? clock(duration) : '—';
  $('progress-fill').style.width = duration ? `${((100 * shown) / duration).toFixed(1)}%` : '0';
}

function clock(ms) {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

function startCommand() {
  const command = { type: 'start_continuous_music', source: $('source').value };
  if (command.source === 'lyria') {
    const text = $('prompt').value.trim();
    if (text) command.prompts = [{ text, weight: 1 }];
    if ($('genre').value) command.genre = $('genre').value;
    return command;
  }
  if ($('genre').value) command.genre = $('genre').value;
  if ($('language').value) command.language = $('language').value;
  return command;
}

function showStartChoices() {
  const lyria = $('source').value === 'lyria';
  $('prompt').hidden = !lyria;
  $('language').hidden = lyria;
}

/** The catalog's genres and languages for the pickers (none when the bridge has no catalog). */
async function loadCatalog() {
  try {
    const res = await fetch('/api/catalog');
    if (!res.ok) return;
    const { genres = [], languages = [] } = await res.json();
    for (const [id, values] of [
      ['genre', genres],
      ['language', languages],
    ]) {
      for (const value of values) $(id).append(new Option(value, value));
      $(id).hidden = values.length === 0 && id === 'language';
    }
  } catch {
    // The pickers stay at "any".
  }
}

/** The bridge serves this page and carries its commands: say when it cannot be reached. */
function watchBridge() {
  const check = async () => {
    let ok = false;
    try {
      ok = (await fetch('/healthz', { cache: 'no-store' })).ok;
    } catch {
      ok = false;
    }
    if (ok !== bridgeOnline) {
      bridgeOnline = ok;
      $('offline').hidden = ok;
      showCommands();
    }
  };
  void check();
  setInterval(check, HEALTH_EVERY_MS);
}

function logEvent(payload) {
  const message = JSON.parse(new TextDecoder().decode(payload));
  const line = document.createElement('div');
  const what = message.track ? ` ${message.track.title}` : '';
  const title = message.track?.stream_title ? ` — ${message.track.stream_title}` : '';
  line.textContent = `${new Date().toLocaleTimeString()} ${message.type}${what}${title}${message.reason ? ` (${message.reason})` : ''}${message.message ? `: ${message.message}` : ''}`;
  $('events').prepend(line);
}

async function send(command) {
  const name = room?.name;
  if (!name) return;
  $('reply').textContent = `${command.type.replaceAll('_', ' ')}…`;
  $('reply').className = '';
  try {
    const res = await fetch(`/api/command?room=${encodeURIComponent(name)}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(command) });
    const reply = await res.json();
    $('reply').textContent = reply.ok ? reply.message : (reply.error?.reason ?? reply.message ?? reply.error ?? res.statusText);
    $('reply').className = reply.ok ? '' : 'error';
  } catch {
    $('reply').textContent = 'The bridge did not answer.';
    $('reply').className = 'error';
  }
}

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

function setJoined(joined) {
  $('join').disabled = joined;
  $('leave').disabled = !joined;
  for (const id of ['player', 'start-panel', 'volumes']) $(id).hidden = !joined;
  if (!joined) {
    state = undefined;
    $('message').hidden = true;
  }
  showCommands();
}

/** Commands need the room, the bridge, and music for all but Start. */
function showCommands() {
  const usable = Boolean(room) && bridgeOnline;
  const playing = state && state.state !== 'stopped';
  for (const button of document.querySelectorAll('[data-command]')) {
    const type = button.dataset.command;
    const applies =
      type === 'pause_music' ? state?.state === 'playing' : type === 'resume_music' ? state?.state === 'paused' : type === 'previous_music' ? playing && state.source === 'playlist' : playing;
    button.disabled = !usable || !applies;
  }
  $('start').disabled = !usable;
  $('room-volume').disabled = !usable || !state;
}
