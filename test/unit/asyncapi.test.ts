/** docs/asyncapi.yaml stays a valid AsyncAPI document that lists every command type. */
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { COMMAND_TYPES } from '../../src/protocol/commands.js';

describe('docs/asyncapi.yaml', () => {
  it('parses without errors or warnings and names every command', async () => {
    const text = readFileSync('docs/asyncapi.yaml', 'utf8');
    const { document, diagnostics } = await new Parser().parse(text);
    expect(diagnostics.filter((d) => d.severity <= 1)).toEqual([]);
    expect(document).toBeDefined();
    for (const type of COMMAND_TYPES) expect(text).toContain(`- ${type}`);
    // The parser loads its whole ruleset: seconds on a busy machine, and no speed is tested here.
  }, 30_000);
});
