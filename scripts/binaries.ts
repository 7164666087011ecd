/** Where the external programs the local stack and the tests run are found (see scripts/provision.sh). */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

function onPath(name: string): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${name}`])
        .toString()
        .trim() || undefined
    );
  } catch {
    return undefined;
  }
}

export function livekitServerBinary(): string {
  const candidates = [process.env.LIVEKIT_SERVER_BIN, join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', 'server'), onPath('livekit-server')];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('livekit-server not found: run `npm run provision` (or set LIVEKIT_SERVER_BIN)');
  return found;
}

export function mosquittoBinary(): string {
  const found = [process.env.MOSQUITTO_BIN, '/usr/sbin/mosquitto', onPath('mosquitto')].find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('mosquitto not found: run `npm run provision` (or set MOSQUITTO_BIN)');
  return found;
}
