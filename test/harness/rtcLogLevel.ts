/**
 * e2e setup: rtc-node logs at debug level unless NODE_ENV is `production`, and the test process's
 * listeners and speakers would flood the console with its JSON lines ("Connect callback received").
 * The suite's console is for the test runner's report; rtc-node says only warnings and errors.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
// Its logger is not exported: loaded by path, it is the same module instance rtc-node uses.
const { log } = require(join(dirname(require.resolve('@livekit/rtc-node')), 'log.cjs')) as { log: { level: string } };
log.level = process.env.RTC_LOG_LEVEL ?? 'warn';
