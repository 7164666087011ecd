/**
 * The player page, served by the bridge when LISTENER_PAGE is on: a browser joins a room with
 * livekit-client, hears the music, sees what plays and sends commands through the bridge.
 *   GET  /listen                  the page (web/listen.html, web/listen.js)
 *   GET  /listen/livekit-client.js the livekit-client browser build
 *   GET  /api/catalog             the catalog's genres and languages, for the page's pickers
 *   GET  /api/join?room=R         a subscribe-only listener token for room R and the URL to use it on
 *   POST /api/command?room=R      a command (JSON body, as on MQTT); answers with its final reply
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveKitConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';
import { listenerToken } from '../src/livekit/tokens.js';
import { MAX_COMMAND_BYTES, sessionIdSchema } from '../src/protocol/commands.js';
import type { Reply } from '../src/protocol/messages.js';

const WEB = new URL('../../web/', import.meta.url);
const LISTENER_TTL = '1h';

export interface ListenerPageOptions {
  livekit: LiveKitConfig;
  /** The LiveKit URL as browsers reach it. */
  publicUrl: string;
  /** What the page offers to start with (MUSIC_CATALOG's genres and languages; empty without it). */
  choices: { genres: string[]; languages: string[] };
  submit(room: string, payload: Buffer): Promise<Reply>;
  log: Logger;
}

export function listenerPageRoutes(options: ListenerPageOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const files: Record<string, { type: string; body: () => Buffer }> = {
    '/listen': { type: 'text/html; charset=utf-8', body: () => readFileSync(new URL('listen.html', WEB)) },
    '/listen/listen.js': { type: 'text/javascript; charset=utf-8', body: () => readFileSync(new URL('listen.js', WEB)) },
    '/listen/livekit-client.js': { type: 'text/javascript; charset=utf-8', body: () => readFileSync(createRequire(import.meta.url).resolve('livekit-client')) },
  };
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://page');
    const file = req.method === 'GET' ? files[url.pathname] : undefined;
    if (file) {
      res.writeHead(200, { 'Content-Type': file.type, 'Cache-Control': 'no-cache' }).end(file.body());
      return true;
    }
    if (url.pathname === '/api/catalog' && req.method === 'GET') {
      sendJson(res, 200, options.choices);
      return true;
    }
    if (url.pathname !== '/api/join' && url.pathname !== '/api/command') return false;
    const room = sessionIdSchema.safeParse(url.searchParams.get('room') ?? '');
    if (!room.success) {
      sendJson(res, 400, { error: `room ${room.error.issues[0]?.message ?? 'is invalid'}` });
      return true;
    }
    const handle = url.pathname === '/api/join' && req.method === 'GET' ? join(options, room.data) : req.method === 'POST' ? command(options, room.data, req) : undefined;
    if (!handle) {
      sendJson(res, 405, { error: 'method not allowed' });
      return true;
    }
    handle
      .then(([status, body]) => sendJson(res, status, body))
      .catch((err: Error) => {
        options.log.warn({ room: room.data, err: err.message }, 'listener page request failed');
        sendJson(res, 500, { error: err.message });
      });
    return true;
  };
}

async function join({ livekit, publicUrl }: ListenerPageOptions, room: string): Promise<[number, object]> {
  const token = await listenerToken({ apiKey: livekit.apiKey, apiSecret: livekit.apiSecret, room, ttl: LISTENER_TTL });
  return [200, { room, url: publicUrl, token }];
}

async function command({ submit }: ListenerPageOptions, room: string, req: IncomingMessage): Promise<[number, object]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_COMMAND_BYTES) return [413, { error: `a command is at most ${MAX_COMMAND_BYTES} bytes` }];
    chunks.push(chunk);
  }
  const reply = await submit(room, Buffer.concat(chunks));
  return [reply.status === 'error' && reply.error?.code === 'invalid_command' ? 400 : 200, reply];
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}
