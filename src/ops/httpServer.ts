/** The operations endpoint of a process: Prometheus `/metrics` and `/healthz`, and optional routes. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** undefined when healthy, else why not (answered with 503). */
  unhealthy: () => string | undefined;
  /** More routes; returns false for a request it does not serve. */
  routes?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export async function startOpsServer({ host, port, registry, unhealthy, routes }: OpsServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body))
        .catch((err: Error) => res.writeHead(500).end(err.message));
    } else if (req.url === '/healthz') {
      const problem = unhealthy();
      res.writeHead(problem ? 503 : 200, { 'Content-Type': 'text/plain' }).end(problem ?? 'ok');
    } else if (!routes?.(req, res)) {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
