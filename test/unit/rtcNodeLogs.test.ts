/** rtc-node's logger routed into ours: our level, our format, marked `logger: "lk-rtc"`. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { routeRtcNodeLogs, rtcNodeLogger } from '../../agent/rtcNodeLogs.js';
import { recordedLog } from './recordedLog.js';

/** A logger like rtc-node's (pino, `lk-rtc`, debug outside production), keeping what it would print itself. */
function rtcNodeLike() {
  const printed: string[] = [];
  const log = pino({ name: 'lk-rtc', level: 'debug' }, { write: (line: string) => void printed.push(line) });
  return { log, printed };
}

describe('routeRtcNodeLogs', () => {
  it("hides rtc-node's debug lines at info, and logs its warnings through ours with their fields", () => {
    const ours = recordedLog('info');
    const rtcNode = rtcNodeLike();
    routeRtcNodeLogs(ours.log, rtcNode.log);
    rtcNode.log.debug('Connect callback received');
    rtcNode.log.warn({ reason: 'closed' }, 'AudioMixer: Stream contribution failed');
    rtcNode.log.warn('failed to dispose data stream writer handle: %s', 'gone');
    expect(rtcNode.printed).toEqual([]);
    expect(ours.lines).toMatchObject([
      { level: 'warn', logger: 'lk-rtc', reason: 'closed', msg: 'AudioMixer: Stream contribution failed' },
      { level: 'warn', logger: 'lk-rtc', msg: 'failed to dispose data stream writer handle: gone' },
    ]);
  });

  it('shows them at debug when LOG_LEVEL is debug', () => {
    const ours = recordedLog('debug');
    const rtcNode = rtcNodeLike();
    routeRtcNodeLogs(ours.log, rtcNode.log);
    rtcNode.log.debug('Connect callback received');
    expect(ours.lines).toMatchObject([{ level: 'debug', logger: 'lk-rtc', msg: 'Connect callback received' }]);
  });

  it("finds rtc-node's own logger", () => {
    expect((rtcNodeLogger() as unknown as pino.Logger).bindings()).toEqual({ name: 'lk-rtc' });
  });
});
