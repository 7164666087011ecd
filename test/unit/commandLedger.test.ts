import { describe, expect, it } from 'vitest';
import { CommandLedger, REMEMBERED_REQUESTS } from '../../agent/commandLedger.js';
import { RECEIVED_KEPT, RESULTS_MAX_BYTES, type Confirmation } from '../../src/protocol/messages.js';

const confirmation = (request_id?: string, message = 'ok'): Confirmation => ({ type: 'music_skipped', ok: true, message, ...(request_id ? { request_id } : {}) });

describe('CommandLedger', () => {
  it('runs a command once per request_id: a repeat while it runs is dropped, after it finishes answered again', () => {
    const ledger = new CommandLedger();
    expect(ledger.admit('r1')).toEqual({ run: true });
    expect(ledger.admit('r1')).toEqual({ run: false, running: true });
    ledger.finished(confirmation('r1', 'Skipped'));
    expect(ledger.admit('r1')).toEqual({ run: false, earlier: confirmation('r1', 'Skipped') });
  });

  it('always runs commands without a request_id', () => {
    const ledger = new CommandLedger();
    expect(ledger.admit(undefined)).toEqual({ run: true });
    ledger.finished(confirmation());
    expect(ledger.admit(undefined)).toEqual({ run: true });
  });

  it(`forgets the oldest applied request_id past ${REMEMBERED_REQUESTS}`, () => {
    const ledger = new CommandLedger();
    for (let i = 0; i <= REMEMBERED_REQUESTS; i++) {
      ledger.admit(`r${i}`);
      ledger.finished(confirmation(`r${i}`));
    }
    expect(ledger.admit('r0')).toEqual({ run: true });
    expect(ledger.admit(`r${REMEMBERED_REQUESTS}`).run).toBe(false);
  });

  it('keeps the newest receipts, in order', () => {
    const ledger = new CommandLedger();
    for (let i = 0; i < RECEIVED_KEPT + 5; i++) ledger.receivedPacket([`p${i}`]);
    const received = JSON.parse(ledger.receivedJson()) as string[];
    expect(received).toHaveLength(RECEIVED_KEPT);
    expect(received.at(-1)).toBe(`p${RECEIVED_KEPT + 4}`);
    expect(received[0]).toBe('p5');
  });

  it('gives the newest confirmations that fit in the attribute, as a JSON array', () => {
    const ledger = new CommandLedger();
    const long = 'x'.repeat(1_000);
    for (let i = 0; i < 100; i++) ledger.finished(confirmation(`r${i}`, long));
    const json = ledger.resultsJson();
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(RESULTS_MAX_BYTES);
    const results = JSON.parse(json) as Confirmation[];
    expect(results.at(-1)?.request_id).toBe('r99');
    expect(results.length).toBeGreaterThan(30);
  });
});
