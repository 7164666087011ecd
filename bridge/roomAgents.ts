/**
 * The bridge's view of LiveKit, through the server API only (it never joins a room): make sure a
 * Roomcast agent is in a room, and deliver packets to it.
 */
import { JobStatus, ParticipantInfo_Kind, TrackType } from '@livekit/protocol';
import { AgentDispatchClient, DataPacket_Kind, RoomServiceClient, type ParticipantInfo } from 'livekit-server-sdk';
import { ParticipantReader } from './participantReader.js';
import type { LiveKitConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';
import { AGENT_ATTRIBUTE, MUSIC_CONTROL_TOPIC, RECEIVED_ATTRIBUTE, RESULTS_ATTRIBUTE, STATE_ATTRIBUTE, type Confirmation } from '../src/protocol/messages.js';

/** What the bridge can see of a room's agent: its state and last confirmations (attributes). */
export interface AgentView {
  identity: string;
  /**
   * Whether the server has its audio track: an agent that lost it plays to nobody. Undefined when
   * the view comes from the agent's own report, which cannot tell.
   */
  publishing?: boolean;
  state: Record<string, unknown>;
  results: Confirmation[];
  /** The request_ids of the last packets it received. */
  received: string[];
}

/** What the bridge sees of a room: whether it exists, who listens, and its agent if any. */
export interface RoomView {
  listeners: number;
  agent?: AgentView;
}

/** Every agent worker is full: the room cannot get an agent now (reply `no_capacity`). */
export class NoCapacityError extends Error {
  override readonly name = 'NoCapacityError';
}

export class NoAgentError extends Error {
  override name = 'NoAgentError';
}

/** An agent usually joins within a second or two; a busy worker takes longer, so poll less. */
const POLL_MS = 50;
const SLOW_POLL_AFTER_MS = 2_000;
const SLOW_POLL_MS = 250;
const REDISPATCH_MS = 5_000;

/** The server API speaks HTTP on the same host and port as the WebSocket URL. */
export function httpUrl(url: string): string {
  return url.replace(/^ws(s?):\/\//, 'http$1://');
}

export class RoomAgents {
  private readonly rooms: RoomServiceClient;
  private readonly dispatch: AgentDispatchClient;
  private readonly reader: ParticipantReader;
  private readonly countRequest: (method: string) => void;
  /**
   * Per room, the identity of the Roomcast agent last seen in it. A dispatch whose job names that
   * agent while it is no longer in the room has lost its agent (LiveKit disconnected it, or it was
   * removed) although the job may still read as running: no reason to wait for it.
   */
  private readonly lastAgent = new Map<string, string>();

  constructor(
    private readonly config: LiveKitConfig,
    private readonly log: Logger,
    /** Counts each server API request, by method (the bridge's metrics). */
    countRequest: (method: string) => void = () => undefined,
  ) {
    const url = httpUrl(config.url);
    this.rooms = counted(new RoomServiceClient(url, config.apiKey, config.apiSecret), countRequest);
    this.dispatch = counted(new AgentDispatchClient(url, config.apiKey, config.apiSecret), countRequest);
    this.reader = new ParticipantReader(url, config.apiKey, config.apiSecret);
    this.countRequest = countRequest;
  }

  /**
   * Resolves once a ready Roomcast agent is a participant of the room. A room with neither an
   * agent nor a pending dispatch gets a dispatch. livekit-server drops a dispatch it cannot place
   * (no worker, or every worker at its target load) without a trace, so a dispatch that has not
   * produced an agent after REDISPATCH_MS is replaced, unless a worker has taken its job: a busy
   * worker may take longer to start it, and a second dispatch would only cost it another process.
   */
  async ensureAgent(room: string, timeoutMs: number, { replaceDispatch = false, alongside }: { replaceDispatch?: boolean; alongside?: string } = {}): Promise<'present' | 'dispatched'> {
    // `alongside`: the agent of a stopping worker, which plays on until its successor is here.
    const ours = (p: ParticipantInfo) => this.isOurAgent(p) && p.identity !== alongside;
    if (alongside !== undefined) return this.dispatchAlongside(room, timeoutMs, ours);
    const participants = await this.participants(room);
    if (participants?.some(ours)) return 'present';
    const startedAt = Date.now();
    const deadline = startedAt + timeoutMs;
    // Listing the dispatches of a room that does not exist stalls for 3 s in livekit-server,
    // and listParticipants cannot tell such a room from an empty one: only look when occupied.
    // A caller that knows the room's agent died asks to replace its dispatch at once.
    // A dispatch whose agent was in the room and has left is replaced now, not after REDISPATCH_MS.
    const dispatches = !replaceDispatch && participants?.length ? await this.ourDispatches(room) : [];
    let dispatchedAt = dispatches.length === 0 ? 0 : this.agentVanished(room, dispatches) ? -REDISPATCH_MS : Date.now();
    if (replaceDispatch && participants?.length) dispatchedAt = -REDISPATCH_MS;
    while (Date.now() < deadline) {
      if (Date.now() - dispatchedAt >= REDISPATCH_MS) {
        if (dispatchedAt <= 0 || !(await this.workerHasJob(room))) await this.redispatch(room, dispatchedAt !== 0);
        dispatchedAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, Date.now() - startedAt < SLOW_POLL_AFTER_MS ? POLL_MS : SLOW_POLL_MS));
      if ((await this.participants(room))?.some((p) => this.isOurAgent(p))) return 'dispatched';
    }
    throw new NoAgentError(`no Roomcast agent "${this.config.agentName}" joined room "${room}" within ${timeoutMs} ms; is an agent worker running?`);
  }

  /**
   * One more dispatch to a room whose agent is leaving (its worker drains): the existing dispatch
   * is kept, as deleting it would end the agent that still plays.
   */
  private async dispatchAlongside(room: string, timeoutMs: number, ours: (p: ParticipantInfo) => boolean): Promise<'dispatched'> {
    const deadline = Date.now() + timeoutMs;
    await this.dispatch.createDispatch(room, this.config.agentName);
    this.log.info({ room, agentName: this.config.agentName }, 'dispatched an agent to take over from a stopping worker');
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if ((await this.participants(room))?.some(ours)) return 'dispatched';
    }
    throw new NoAgentError(`no Roomcast agent "${this.config.agentName}" came to take over room "${room}" within ${timeoutMs} ms`);
  }

  /** The room as the server API shows it (an empty list for a room that does not exist). */
  async roomView(room: string): Promise<RoomView> {
    const participants = (await this.participants(room)) ?? [];
    const agent = participants.find((p) => this.isOurAgent(p));
    const listeners = participants.filter((p) => p.kind !== ParticipantInfo_Kind.AGENT).length;
    if (!agent) return { listeners };
    return {
      listeners,
      agent: {
        identity: agent.identity,
        publishing: agent.tracks.some((t) => t.type === TrackType.AUDIO),
        state: parseJson(agent.attributes[STATE_ATTRIBUTE], {}),
        results: parseJson(agent.attributes[RESULTS_ATTRIBUTE], []),
        received: parseJson(agent.attributes[RECEIVED_ATTRIBUTE], []),
      },
    };
  }

  /** Removes a participant from the room (its job then ends). */
  async remove(room: string, identity: string): Promise<void> {
    await this.rooms.removeParticipant(room, identity);
  }

  async sendData(room: string, payload: Uint8Array): Promise<void> {
    await this.rooms.sendData(room, payload, DataPacket_Kind.RELIABLE, { topic: MUSIC_CONTROL_TOPIC });
  }

  private async ourDispatches(room: string) {
    const dispatches = await this.dispatch.listDispatch(room).catch(() => []);
    return dispatches.filter((d) => d.agentName === this.config.agentName);
  }

  /**
   * True when a worker took the job of one of the room's dispatches and is starting or running it.
   */
  private async workerHasJob(room: string): Promise<boolean> {
    const jobs = (await this.ourDispatches(room)).flatMap((d) => d.state?.jobs ?? []);
    return jobs.some((j) => !!j.state?.workerId && (j.state.status === JobStatus.JS_PENDING || j.state.status === JobStatus.JS_RUNNING));
  }

  /** The agent last seen in the room is not in it now (the caller just looked), and one of `dispatches` names it. */
  private agentVanished(room: string, dispatches: Awaited<ReturnType<RoomAgents['ourDispatches']>>): boolean {
    const gone = this.lastAgent.get(room);
    if (!gone) return false;
    const vanished = dispatches.some((d) => (d.state?.jobs ?? []).some((j) => j.state?.participantIdentity === gone));
    if (vanished) this.log.info({ room, agent: gone }, "the room's agent left while its dispatch stands: dispatching again now");
    return vanished;
  }

  private async redispatch(room: string, replacing: boolean): Promise<void> {
    if (replacing) {
      for (const stale of await this.ourDispatches(room)) await this.dispatch.deleteDispatch(stale.id, room).catch(() => undefined);
    }
    await this.rooms.createRoom({ name: room });
    await this.dispatch.createDispatch(room, this.config.agentName);
    this.log.info({ room, agentName: this.config.agentName, replacing }, replacing ? 'dispatch produced no agent; dispatched again' : 'dispatched agent');
  }

  /** The room's participants, or undefined when the room does not exist. */
  private async participants(room: string): Promise<ParticipantInfo[] | undefined> {
    this.countRequest('listParticipants');
    const participants = await this.reader.list(room);
    const agent = participants?.find((p) => this.isOurAgent(p));
    // Kept while the agent is in the room, and after it left (then the one that vanished), until a
    // new one is seen or the room is gone.
    if (agent) this.lastAgent.set(room, agent.identity);
    else if (!participants) this.lastAgent.delete(room);
    return participants;
  }

  private isOurAgent(p: ParticipantInfo): boolean {
    return p.attributes[AGENT_ATTRIBUTE] === this.config.agentName;
  }
}

/** The client, with each of its request methods counted by name. */
function counted<T extends object>(client: T, count: (method: string) => void): T {
  return new Proxy(client, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return (...args: unknown[]) => {
        count(key);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  try {
    return text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}
