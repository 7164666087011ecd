// The package registries, for the Docker builds of the compose test and nothing else. The
// end-to-end suite runs in a private network namespace with no way out (scripts/netns.sh), but
// `docker build` must install Debian and npm packages as any user's build does. This proxy runs
// outside the namespace, listens on a Unix socket (a file both sides see), and forwards HTTP
// to the hosts of this machine's own package sources only: the npm registry npm is configured with
// and the URIs of apt's sources. Anything else: 403. Two kinds of request:
// - a proxy request (`GET http://host/path`: apt with http_proxy) is forwarded as it is;
// - a plain request (`GET /path`: npm with this proxy as its registry) goes to the npm registry
//   over HTTPS made here, with this machine's trust store (a network that
//   inspects TLS has its own CA, which a build container does not know), and the tarball URLs in
//   the package documents point back here.
// (No HTTPS tunnel: through one, a build would meet that CA it does not trust.)
//   node scripts/package-proxy.mjs <socket-path>
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

const socketPath = process.argv[2];
if (!socketPath) {
  console.error('usage: package-proxy.mjs <socket-path>');
  process.exit(2);
}

function aptHosts() {
  const hosts = [];
  const files = ['/etc/apt/sources.list', ...readdirSync('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`)];
  for (const file of files.filter((f) => /\.(list|sources)$/.test(f))) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/^(?:deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?|URIs:\s+)(https?:\/\/[^\s/]+)/gm)) hosts.push(new URL(m[1]).hostname);
  }
  return hosts;
}

function npmRegistry() {
  try {
    return new URL(execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

const registry = npmRegistry();
// The machine's trust store as well as Node's own roots: a network that inspects TLS adds its CA
// there (whether or not NODE_EXTRA_CA_CERTS says so).
const SYSTEM_CAS = '/etc/ssl/certs/ca-certificates.crt';
const ca = existsSync(SYSTEM_CAS) ? [...rootCertificates, readFileSync(SYSTEM_CAS, 'utf8')] : undefined;
const allowed = new Set([...aptHosts(), ...(registry ? [registry.hostname] : [])]);
const log = (line) => process.stderr.write(`package-proxy: ${line}\n`);

/** npm asking this proxy as its registry: fetched from the real one, tarball URLs rewritten to here. */
function fromRegistry(req, res) {
  if (!registry) {
    res.writeHead(503).end('no npm registry configured on this machine\n');
    return;
  }
  const url = new URL(req.url ?? '/', registry);
  const headers = { ...req.headers, host: url.host, 'accept-encoding': 'identity' };
  const upstream = httpsRequest(url, { method: req.method, headers, ca }, (up) => {
    const json = /json/.test(String(up.headers['content-type'] ?? ''));
    if (!json) {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      return;
    }
    const chunks = [];
    up.on('data', (c) => chunks.push(c));
    up.on('end', () => {
      const here = `http://${req.headers.host}${registry.pathname.replace(/\/$/, '')}`;
      const body = Buffer.from(
        Buffer.concat(chunks)
          .toString('utf8')
          .replaceAll(registry.origin + registry.pathname.replace(/\/$/, ''), here),
      );
      const headers = { ...up.headers, 'content-length': body.length };
      delete headers['transfer-encoding'];
      res.writeHead(up.statusCode ?? 502, headers);
      res.end(body);
    });
  });
  upstream.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502).end(`${err.message}\n`);
    else res.destroy();
  });
  req.pipe(upstream);
}

const server = createServer((req, res) => {
  if ((req.url ?? '').startsWith('/')) {
    fromRegistry(req, res);
    return;
  }
  // A proxy request: the absolute URL in the request line (apt over http).
  let url;
  try {
    url = new URL(req.url ?? '');
  } catch {
    res.writeHead(400).end('absolute URL expected\n');
    return;
  }
  if (url.protocol !== 'http:' || !allowed.has(url.hostname)) {
    log(`refused ${req.method} ${url.host}`);
    res.writeHead(403).end('not a package source of this machine\n');
    return;
  }
  const upstream = request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  upstream.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502).end(`${err.message}\n`);
    else res.destroy();
  });
  req.pipe(upstream);
});

rmSync(socketPath, { force: true });
server.listen(socketPath, () => log(`on ${socketPath} for ${[...allowed].join(', ')}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
