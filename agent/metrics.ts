/**
 * The agent's Prometheus metrics. Rooms play in host processes (AGENT_PROCESSES of them) that the
 * agent's main process forks and owns, so host processes report events as small UDP datagrams on
 * 127.0.0.1 to the main process, which keeps the counters and serves /metrics for all of them.
 */
import { createSocket, type Socket } from 'node:dgram';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type AgentMetricEvent =
  | { kind: 'command'; command: string; ok: boolean; seconds: number }
  | { kind: 'track'; source: string; outcome: string }
  | { kind: 'underrun'; source: string }
  | { kind: 'reconnect'; source: string }
  /** A host process's room count (`host`: its pid). */
  | { kind: 'rooms'; host: number; rooms: number };

/** A host process that exits with this code asks to be started afresh at once (hostProcess.ts: recycling). */
export const RECYCLE_EXIT_CODE = 75;

/** The variable through which host processes learn where to report. */
export const METRICS_PORT_ENV = 'ROOMCAST_METRICS_UDP_PORT';

export function createAgentMetrics() {
  const registry = new Registry();
  // This process plays nothing: its event loop lag is measured once a second, not every 10 ms
  // (prom-client's default, ~9 ms/s of CPU at rest, measured). Host processes watch their own
  // loops while they have rooms (eventLoop.ts).
  collectDefaultMetrics({ register: registry, prefix: 'roomcast_agent_', eventLoopMonitoringPrecision: 1_000 });
  const commands = new Counter({ name: 'roomcast_agent_commands_total', help: 'Commands applied, by type and result', labelNames: ['command', 'ok'] as const, registers: [registry] });
  const commandSeconds = new Histogram({
    name: 'roomcast_agent_command_seconds',
    help: 'Time to apply a command in the room (a start: until the first audio frame)',
    labelNames: ['command'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const tracks = new Counter({
    name: 'roomcast_agent_tracks_total',
    help: 'Track events, by source and outcome (started, finished, skipped, stopped, failed)',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const underruns = new Counter({
    name: 'roomcast_agent_underruns_total',
    help: 'Gaps the room heard: a source (or the native audio queue: source=playout) ran dry while playing',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const reconnects = new Counter({
    name: 'roomcast_agent_source_reconnects_total',
    help: 'Sessions of a generative source (Lyria) restored after a drop',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const activeRooms = new Gauge({ name: 'roomcast_agent_rooms_active', help: 'Rooms this worker plays in', registers: [registry] });
  const roomsByHost = new Map<number, number>();
  const countRooms = () => activeRooms.set([...roomsByHost.values()].reduce((a, b) => a + b, 0));
  return {
    registry,
    /** A host process that exited has no rooms left. */
    hostGone(pid: number): void {
      roomsByHost.delete(pid);
      countRooms();
    },
    record(event: AgentMetricEvent): void {
      switch (event.kind) {
        case 'command':
          commands.inc({ command: event.command, ok: String(event.ok) });
          commandSeconds.observe({ command: event.command }, event.seconds);
          break;
        case 'track':
          tracks.inc({ source: event.source, outcome: event.outcome });
          break;
        case 'underrun':
          underruns.inc({ source: event.source });
          break;
        case 'reconnect':
          reconnects.inc({ source: event.source });
          break;
        case 'rooms':
          roomsByHost.set(event.host, event.rooms);
          countRooms();
          break;
      }
    },
  };
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>;

/** In the main process: receives host processes' events; returns the UDP port. */
export async function collectJobMetrics(metrics: AgentMetrics): Promise<number> {
  const socket = createSocket('udp4');
  socket.on('message', (data) => {
    try {
      metrics.record(JSON.parse(data.toString()) as AgentMetricEvent);
    } catch {
      // not ours: ignore
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.unref();
  return socket.address().port;
}

/** In a host process: sends events to the main process (a no-op when it does not listen). */
export class MetricsReporter {
  private readonly socket: Socket | undefined;
  private readonly port: number;

  constructor(port = Number(process.env[METRICS_PORT_ENV] ?? 0)) {
    this.port = port;
    if (port > 0) {
      this.socket = createSocket('udp4');
      this.socket.unref();
    }
  }

  report(event: AgentMetricEvent): void {
    this.socket?.send(JSON.stringify(event), this.port, '127.0.0.1');
  }

  close(): void {
    this.socket?.close();
  }
}
