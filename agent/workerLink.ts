/**
 * This host process's link to livekit-server as an agent worker: the WebSocket at `/agent` that
 * @livekit/agents would open, spoken here so that one process can play many rooms (the framework
 * runs each job in a process of its own). LiveKit keeps placing rooms: it offers a dispatched job,
 * the host says whether it takes it, the server assigns it with a token for the room, and ends it
 * when the dispatch or the room goes. Messages are the protobufs of @livekit/protocol
 * (agents-js `worker.ts` is the reference client).
 *
 * What the server does not do, this does: it never pings a registered worker's messages back, so a
 * half-open connection is only seen from the server's WebSocket pings (every 10 s): none for
 * `SILENT_LINK_MS` and the link is dropped and made again. After a reconnect the worker has a new id
 * and hears nothing more of its running jobs; the rooms keep playing over their own connections.
 */
import { JobStatus, JobType, ParticipantPermission, ServerMessage, WorkerMessage, WorkerStatus, type Job, type JobAssignment } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import { WebSocket } from 'ws';
import type { LiveKitConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';

/** The server pings every 10 s: two missed pings and a half is a dead link. */
const SILENT_LINK_MS = 25_000;
/** agents-js reports its load every 2.5 s; the server keeps the last report. */
const STATUS_INTERVAL_MS = 2_500;
const RECONNECT_MAX_MS = 10_000;

export interface JobClaim {
  identity: string;
  name: string;
  attributes?: Record<string, string>;
}

export interface WorkerLinkHandlers {
  /** A job offered to this worker: a claim takes it (the server wants the answer within ~3 s). */
  offer(job: Job): JobClaim | undefined;
  /** The job is this worker's: join `url` with `token`. */
  assigned(job: Job, url: string, token: string): void;
  /** The server ended the job (its dispatch was deleted, or its agent left the room). */
  terminated(jobId: string): void;
  /** The current load (0–1) and whether the worker takes no more jobs. */
  load(): { load: number; full: boolean };
}

export class WorkerLink {
  private socket: WebSocket | undefined;
  private workerId: string | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private closed = false;
  private firstRegistration: (() => void) | undefined;

  constructor(
    private readonly livekit: LiveKitConfig,
    private readonly handlers: WorkerLinkHandlers,
    private readonly log: Logger,
  ) {}

  get registered(): boolean {
    return this.workerId !== undefined;
  }

  /** Resolves once registered; keeps the link up (reconnecting) until close(). */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.firstRegistration = resolve;
      void this.connect();
    });
  }

  /** Sends the current load now (a room came or went) instead of at the next tick. */
  reportStatus(): void {
    const { load, full } = this.handlers.load();
    this.sendMessage({ case: 'updateWorker', value: { load, status: full ? WorkerStatus.WS_FULL : WorkerStatus.WS_AVAILABLE } });
  }

  /** A job this worker ended by itself (the room emptied, the agent gave way). */
  jobEnded(jobId: string, error?: string): void {
    this.sendMessage({ case: 'updateJob', value: { jobId, status: error ? JobStatus.JS_FAILED : JobStatus.JS_SUCCESS, error: error ?? '' } });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.statusTimer);
    clearTimeout(this.silenceTimer);
    clearTimeout(this.reconnectTimer);
    this.socket?.close();
  }

  private async connect(): Promise<void> {
    const token = new AccessToken(this.livekit.apiKey, this.livekit.apiSecret);
    token.addGrant({ agent: true });
    const url = new URL('/agent', this.livekit.url.replace(/^http/, 'ws'));
    const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${await token.toJwt()}` } });
    this.socket = socket;
    socket.binaryType = 'nodebuffer';
    socket.on('open', () => this.register());
    socket.on('ping', () => this.heard());
    socket.on('message', (data: Buffer) => this.onMessage(data));
    socket.on('error', (err) => this.log.warn({ err: err.message }, 'LiveKit worker link error'));
    socket.on('close', () => this.onClose(socket));
  }

  private register(): void {
    this.heard();
    this.sendMessage({
      case: 'register',
      value: {
        type: JobType.JT_ROOM,
        agentName: this.livekit.agentName,
        version: 'roomcast',
        allowedPermissions: new ParticipantPermission({ canPublish: true, canSubscribe: true, canPublishData: true, canUpdateMetadata: true, agent: true }),
      },
    });
  }

  private onMessage(data: Buffer): void {
    this.heard();
    let message: ServerMessage;
    try {
      message = ServerMessage.fromBinary(new Uint8Array(data));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'unreadable message from LiveKit: ignored');
      return;
    }
    const { case: kind, value } = message.message;
    switch (kind) {
      case 'register':
        this.workerId = value.workerId;
        this.attempts = 0;
        this.log.info({ workerId: value.workerId, agentName: this.livekit.agentName, server: value.serverInfo?.version }, 'registered worker');
        clearInterval(this.statusTimer);
        this.statusTimer = setInterval(() => this.reportStatus(), STATUS_INTERVAL_MS);
        this.reportStatus();
        this.firstRegistration?.();
        this.firstRegistration = undefined;
        break;
      case 'availability':
        if (value.job) this.answerOffer(value.job);
        break;
      case 'assignment':
        this.onAssignment(value);
        break;
      case 'termination':
        this.handlers.terminated(value.jobId);
        break;
      default:
        break;
    }
  }

  private answerOffer(job: Job): void {
    let claim: JobClaim | undefined;
    try {
      claim = this.handlers.offer(job);
    } catch (err) {
      this.log.error({ err, job: job.id }, 'could not consider a job: declined');
    }
    this.sendMessage({
      case: 'availability',
      value: {
        jobId: job.id,
        available: claim !== undefined,
        participantIdentity: claim?.identity ?? '',
        participantName: claim?.name ?? '',
        participantAttributes: claim?.attributes ?? {},
      },
    });
  }

  private onAssignment(assignment: JobAssignment): void {
    if (!assignment.job) return;
    // A self-hosted server leaves the URL out: the room is on the server this link reaches.
    this.handlers.assigned(assignment.job, assignment.url || this.livekit.url, assignment.token);
  }

  private heard(): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      this.log.warn({ silentMs: SILENT_LINK_MS }, 'LiveKit worker link silent: reconnecting');
      this.socket?.terminate();
    }, SILENT_LINK_MS);
  }

  private onClose(socket: WebSocket): void {
    if (socket !== this.socket) return;
    clearInterval(this.statusTimer);
    clearTimeout(this.silenceTimer);
    const wasRegistered = this.workerId !== undefined;
    this.workerId = undefined;
    if (this.closed) return;
    const delayMs = Math.min(RECONNECT_MAX_MS, 500 * 2 ** this.attempts++);
    this.log.warn({ wasRegistered, retryInMs: delayMs }, 'LiveKit worker link closed: reconnecting');
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  private sendMessage(message: NonNullable<NonNullable<ConstructorParameters<typeof WorkerMessage>[0]>['message']>): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    this.socket.send(new WorkerMessage({ message }).toBinary());
  }
}
