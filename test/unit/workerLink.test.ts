/**
 * WorkerLink against a stand-in for livekit-server's `/agent` endpoint that speaks the real
 * protobufs of @livekit/protocol: registration, offers, assignment, termination, job status,
 * load reports, and a reconnect after the server drops the link.
 */
import { once } from 'node:events';
import { JobStatus, JobType, ServerMessage, WorkerMessage, WorkerStatus, type Job } from '@livekit/protocol';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { WorkerLink, type WorkerLinkHandlers } from '../../agent/workerLink.js';

interface FakeServer {
  url: string;
  received: WorkerMessage[];
  authorizations: string[];
  socket(): WebSocket;
  send(message: ConstructorParameters<typeof ServerMessage>[0]): void;
  next(kind: string): Promise<WorkerMessage>;
  close(): Promise<void>;
}

async function fakeLiveKit(): Promise<FakeServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/agent' });
  await once(wss, 'listening');
  const received: WorkerMessage[] = [];
  const authorizations: string[] = [];
  let current: WebSocket | undefined;
  const waiting: Array<{ kind: string; resolve: (m: WorkerMessage) => void }> = [];
  wss.on('connection', (socket, req) => {
    current = socket;
    authorizations.push(req.headers.authorization ?? '');
    socket.on('message', (data: Buffer) => {
      const message = WorkerMessage.fromBinary(new Uint8Array(data));
      received.push(message);
      const i = waiting.findIndex((w) => w.kind === message.message.case);
      if (i >= 0) waiting.splice(i, 1)[0]?.resolve(message);
      if (message.message.case === 'register') socket.send(new ServerMessage({ message: { case: 'register', value: { workerId: `AW_${authorizations.length}` } } }).toBinary());
    });
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    received,
    authorizations,
    socket: () => current as WebSocket,
    send: (message) => current?.send(new ServerMessage(message).toBinary()),
    next: (kind) => new Promise((resolve) => waiting.push({ kind, resolve })),
    close: () => new Promise((resolve) => wss.close(() => resolve())),
  };
}

const job = (id: string, room: string) => ({ id, type: JobType.JT_ROOM, room: { name: room }, agentName: 'roomcast' }) as unknown as Job;

function handlers(overrides: Partial<WorkerLinkHandlers> = {}) {
  const calls = { offered: [] as string[], assigned: [] as Array<{ id: string; url: string; token: string }>, terminated: [] as string[] };
  const h: WorkerLinkHandlers = {
    offer: (j) => (calls.offered.push(j.id), { identity: `agent-${j.id}`, name: 'Roomcast', attributes: { a: 'b' } }),
    assigned: (j, url, token) => void calls.assigned.push({ id: j.id, url, token }),
    terminated: (id) => void calls.terminated.push(id),
    load: () => ({ load: 0.35, full: false }),
    ...overrides,
  };
  return { h, calls };
}

let server: FakeServer | undefined;
let link: WorkerLink | undefined;
afterEach(async () => {
  link?.close();
  await server?.close();
});

describe('WorkerLink', () => {
  it('registers with an agent grant, reports its load, and claims, takes and ends jobs', async () => {
    server = await fakeLiveKit();
    const { h, calls } = handlers();
    const livekit = { url: server.url, apiKey: 'key', apiSecret: 'secret-secret-secret-secret-secret', agentName: 'roomcast' };
    link = new WorkerLink(livekit, h, pino({ level: 'silent' }));
    const status = server.next('updateWorker');
    await link.start();
    expect(link.registered).toBe(true);

    const register = server.received[0]?.message;
    expect(register?.case).toBe('register');
    if (register?.case === 'register') {
      expect(register.value.agentName).toBe('roomcast');
      expect(register.value.type).toBe(JobType.JT_ROOM);
      expect(register.value.allowedPermissions?.agent).toBe(true);
    }
    const claims = JSON.parse(Buffer.from((server.authorizations[0] ?? '').split('.')[1] ?? '', 'base64url').toString()) as { video?: { agent?: boolean } };
    expect(claims.video?.agent).toBe(true);
    const load = (await status).message;
    expect(load.case === 'updateWorker' && load.value.load).toBeCloseTo(0.35);
    expect(load.case === 'updateWorker' && load.value.status).toBe(WorkerStatus.WS_AVAILABLE);

    const answer = server.next('availability');
    server.send({ message: { case: 'availability', value: { job: job('AJ_1', 'kitchen') } } });
    const availability = (await answer).message;
    expect(availability.case).toBe('availability');
    if (availability.case === 'availability') {
      expect(availability.value).toMatchObject({ jobId: 'AJ_1', available: true, participantIdentity: 'agent-AJ_1', participantName: 'Roomcast', participantAttributes: { a: 'b' } });
    }

    server.send({ message: { case: 'assignment', value: { job: job('AJ_1', 'kitchen'), token: 'room-token' } } });
    await expect.poll(() => calls.assigned).toEqual([{ id: 'AJ_1', url: server.url, token: 'room-token' }]);

    server.send({ message: { case: 'termination', value: { jobId: 'AJ_1' } } });
    await expect.poll(() => calls.terminated).toEqual(['AJ_1']);

    const ended = server.next('updateJob');
    link.jobEnded('AJ_2');
    const update = (await ended).message;
    expect(update.case === 'updateJob' && update.value.status).toBe(JobStatus.JS_SUCCESS);
    const failed = server.next('updateJob');
    link.jobEnded('AJ_3', 'room failed');
    const failure = (await failed).message;
    expect(failure.case === 'updateJob' && [failure.value.status, failure.value.error]).toEqual([JobStatus.JS_FAILED, 'room failed']);
  });

  it('declines a job it does not claim, and reports itself full', async () => {
    server = await fakeLiveKit();
    const { h } = handlers({ offer: () => undefined, load: () => ({ load: 0.7, full: true }) });
    link = new WorkerLink({ url: server.url, apiKey: 'k', apiSecret: 's'.repeat(32), agentName: 'roomcast' }, h, pino({ level: 'silent' }));
    const status = server.next('updateWorker');
    await link.start();
    const full = (await status).message;
    expect(full.case === 'updateWorker' && full.value.status).toBe(WorkerStatus.WS_FULL);
    const answer = server.next('availability');
    server.send({ message: { case: 'availability', value: { job: job('AJ_9', 'den') } } });
    const availability = (await answer).message;
    expect(availability.case === 'availability' && availability.value.available).toBe(false);
  });

  it('registers again after the server drops the link', async () => {
    server = await fakeLiveKit();
    const { h } = handlers();
    link = new WorkerLink({ url: server.url, apiKey: 'k', apiSecret: 's'.repeat(32), agentName: 'roomcast' }, h, pino({ level: 'silent' }));
    await link.start();
    const again = server.next('register');
    server.socket().terminate();
    await again;
    await expect.poll(() => link?.registered).toBe(true);
    expect(server.authorizations).toHaveLength(2);
  });
});
