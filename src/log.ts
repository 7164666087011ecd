/** The one logger: pino JSON lines, secrets redacted wherever they appear in a logged object. */
import { pino, type Logger } from 'pino';
import type { LogConfig } from './config.js';

export type { Logger };

const SECRET_KEYS = ['apiSecret', 'apiKey', 'password', 'LIVEKIT_API_SECRET', 'MQTT_PASSWORD', 'GOOGLE_API_KEY', 'GEMINI_API_KEY', 'token', 'authorization'];

export const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export function createLogger(name: string, config: LogConfig): Logger {
  return pino({
    name,
    level: config.level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...(config.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}

/** Replaces each secret in `text` (an error message, a URL) by [redacted]. */
export function scrub(text: string, secrets: Array<string | undefined>): string {
  return secrets.reduce<string>((t, secret) => (secret && secret.length >= 4 ? t.split(secret).join('[redacted]') : t), text);
}
