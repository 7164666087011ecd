/** Access tokens for listeners: subscribe-only, one room, short-lived. */
import { AccessToken } from 'livekit-server-sdk';

export interface ListenerTokenOptions {
  apiKey: string;
  apiSecret: string;
  room: string;
  identity?: string;
  /** Lifetime, as livekit-server-sdk reads it ("15m", "2h") or seconds. */
  ttl?: string | number;
}

export async function listenerToken({ apiKey, apiSecret, room, identity, ttl = '1h' }: ListenerTokenOptions): Promise<string> {
  const token = new AccessToken(apiKey, apiSecret, { identity: identity ?? `listener-${Math.random().toString(36).slice(2, 10)}`, ttl });
  token.addGrant({ room, roomJoin: true, canSubscribe: true, canPublish: false, canPublishData: false, canUpdateOwnMetadata: false });
  return token.toJwt();
}
