/**
 * e2e setup: rtc-node logs at debug level unless NODE_ENV is `production`, and the test process's
 * listeners and speakers would flood the console with its JSON lines ("Connect callback received").
 * The suite's console is for the test runner's report; rtc-node says only warnings and errors.
 */
import { rtcNodeLogger } from '../../agent/rtcNodeLogs.js';

rtcNodeLogger().level = process.env.RTC_LOG_LEVEL ?? 'warn';
