/**
 * How full a host process tells LiveKit it is. @livekit/agents reports the machine's CPU use,
 * but livekit-server stops dispatching to a worker whose load reaches its `agents.target_load`
 * (0.7 by default) and drops that dispatch; on a small machine a burst of ffmpeg decoding then
 * loses rooms. Music playout costs about the same per room, so load is counted in rooms:
 * a host reaches the target load exactly when it holds `maxRooms` rooms.
 */
export const LIVEKIT_TARGET_LOAD = 0.7;

export function roomLoad(activeRooms: number, maxRooms: number): number {
  return Math.min(1, (LIVEKIT_TARGET_LOAD * activeRooms) / maxRooms);
}
