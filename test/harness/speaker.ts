/**
 * A participant that talks: a stand-in voice agent (participant kind agent, LiveKit's
 * `lk.agent.state` attribute) or a person, publishing a track named `voice` that carries a tone
 * while it speaks and silence otherwise, for the ducking tests.
 */
import { AudioFrame, AudioSource, LocalAudioTrack, Room, TrackPublishOptions, TrackSource } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';

const RATE = 48_000;
const FRAME = 480;

export class Speaker {
  private readonly room = new Room();
  private readonly source = new AudioSource(RATE, 1, 100);
  private speaking = false;
  private phase = 0;
  private running = true;
  /** Date.now() when each burst started and ended. */
  readonly bursts: Array<{ from: number; to?: number }> = [];

  private constructor(
    readonly identity: string,
    private readonly agent: boolean,
    private readonly frequency: number,
  ) {}

  static async join(url: string, apiKey: string, apiSecret: string, room: string, { identity, agent, frequency = 2000 }: { identity: string; agent: boolean; frequency?: number }): Promise<Speaker> {
    const token = new AccessToken(apiKey, apiSecret, { identity, name: identity, ...(agent ? { attributes: { 'lk.agent.state': 'listening' } } : {}) });
    if (agent) token.kind = 'agent';
    token.addGrant({ room, roomJoin: true, canPublish: true, canSubscribe: false, canPublishData: true, canUpdateOwnMetadata: true });
    const speaker = new Speaker(identity, agent, frequency);
    await speaker.room.connect(url, await token.toJwt(), { autoSubscribe: false, dynacast: false });
    const track = LocalAudioTrack.createAudioTrack('voice', speaker.source);
    await speaker.room.localParticipant?.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
    void speaker.pump();
    return speaker;
  }

  /** Starts talking (the tone, and `speaking` for a voice agent); resolves once said. */
  async startSpeaking(): Promise<number> {
    if (this.agent) await this.room.localParticipant?.setAttributes({ 'lk.agent.state': 'speaking' });
    this.speaking = true;
    const at = Date.now();
    this.bursts.push({ from: at });
    return at;
  }

  async stopSpeaking(): Promise<number> {
    this.speaking = false;
    const at = Date.now();
    if (this.agent) await this.room.localParticipant?.setAttributes({ 'lk.agent.state': 'listening' });
    const last = this.bursts.at(-1);
    if (last) last.to = at;
    return at;
  }

  /** A data packet on the speaker's own topic, to one participant. */
  async send(topic: string, body: object, to: string): Promise<void> {
    await this.room.localParticipant?.publishData(new TextEncoder().encode(JSON.stringify(body)), { reliable: true, topic, destination_identities: [to] });
  }

  async leave(): Promise<void> {
    this.running = false;
    await this.room.disconnect();
  }

  /** 10-ms frames, paced by the source's queue: the tone while speaking, silence otherwise. */
  private async pump(): Promise<void> {
    while (this.running) {
      const data = new Int16Array(FRAME);
      if (this.speaking) {
        for (let i = 0; i < FRAME; i++) data[i] = Math.round(Math.sin((2 * Math.PI * this.frequency * (this.phase + i)) / RATE) * 12_000);
        this.phase += FRAME;
      }
      try {
        await this.source.captureFrame(new AudioFrame(data, RATE, 1, FRAME));
      } catch {
        return;
      }
    }
  }
}
