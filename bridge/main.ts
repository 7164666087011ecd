/** `npm run bridge`: MQTT commands → LiveKit rooms. */
import { loadBridgeConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { RoomAgents } from '../src/livekit/roomAgents.js';
import { Bridge } from '../src/mqtt/bridge.js';
import { startupStep } from '../src/startup.js';

const config = await startupStep(() => loadBridgeConfig());
const log = createLogger('bridge', config.log);
const bridge = new Bridge(config, new RoomAgents(config.livekit, log), log);
await startupStep(() => bridge.start());

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'bridge stopping');
    void bridge.stop().finally(() => process.exit(0));
  });
}
