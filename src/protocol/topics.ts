/**
 * MQTT topic layout: `<base>/<session_id>/command` in; `<base>/<session_id>/reply` and `/state`
 * out. Between Roomcast's own parts: `/desired` (bridges), `/agent` (agents' reports to the
 * bridges), `<base>/bridge/…` and `<base>/agents/…` (presence).
 */
export class Topics {
  constructor(readonly base: string) {}

  /** The subscription that receives every session's commands. */
  get allCommands(): string {
    return `${this.base}/+/command`;
  }

  command(sessionId: string): string {
    return `${this.base}/${sessionId}/command`;
  }

  reply(sessionId: string): string {
    return `${this.base}/${sessionId}/reply`;
  }

  /** Retained: the room's music state, as the agent last reported it. */
  state(sessionId: string): string {
    return `${this.base}/${sessionId}/state`;
  }

  /** Retained: what the app last asked the room to play (see desired.ts). */
  desired(sessionId: string): string {
    return `${this.base}/${sessionId}/desired`;
  }

  get allDesired(): string {
    return `${this.base}/+/desired`;
  }

  /** The session level of a `<base>/<session>/<leaf>` topic. */
  sessionIn(topic: string, leaf: string): string | undefined {
    const prefix = `${this.base}/`;
    if (!topic.startsWith(prefix) || !topic.endsWith(`/${leaf}`)) return undefined;
    const session = topic.slice(prefix.length, -(leaf.length + 1));
    return session && !session.includes('/') ? session : undefined;
  }

  /**
   * Retained: whether the bridge service is up (any replica connected), kept true by the replicas'
   * MQTT Last Will (presence.ts). The session id `bridge` is reserved for it.
   */
  get bridgeService(): string {
    return `${this.base}/bridge/state`;
  }

  /** Retained: `online`/`offline` of one bridge replica (presence.ts). */
  bridgeState(clientId: string): string {
    return `${this.base}/bridge/${clientId}/state`;
  }

  get allBridgeStates(): string {
    return `${this.base}/bridge/+/state`;
  }

  /** The replica id of a bridge presence topic, or undefined when the topic is not one. */
  bridgeOf(topic: string): string | undefined {
    return this.presenceOf(topic, 'bridge');
  }

  /** A room's agent reports its state, receipts and confirmations here as they change (agentReports.ts). */
  agentReport(sessionId: string): string {
    return `${this.base}/${sessionId}/agent`;
  }

  get allAgentReports(): string {
    return `${this.base}/+/agent`;
  }

  /** `online` / `offline` (its MQTT Last Will) / `draining` of one agent host process, not retained. */
  workerState(workerId: string): string {
    return `${this.base}/agents/${workerId}/state`;
  }

  get allWorkerStates(): string {
    return `${this.base}/agents/+/state`;
  }

  /** The worker id of a worker state topic, or undefined when the topic is not one. */
  workerOf(topic: string): string | undefined {
    return this.presenceOf(topic, 'agents');
  }

  /** The id of a `<base>/<kind>/<id>/state` presence topic, or undefined when the topic is not one. */
  private presenceOf(topic: string, kind: 'bridge' | 'agents'): string | undefined {
    const prefix = `${this.base}/${kind}/`;
    if (!topic.startsWith(prefix) || !topic.endsWith('/state')) return undefined;
    const id = topic.slice(prefix.length, -'/state'.length);
    return id && !id.includes('/') ? id : undefined;
  }

  /** The session level of a command topic, or undefined when the topic is not one. */
  sessionOf(topic: string): string | undefined {
    return this.sessionIn(topic, 'command');
  }
}
