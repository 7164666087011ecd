/**
 * A room's desired music: what the app last asked for, kept by the bridge as a retained MQTT
 * message (`<base>/<session_id>/desired`) so that it outlives the agent, the bridge and the
 * LiveKit server. Bridges bring rooms back to it: an agent that crashed, or a room recreated
 * after a LiveKit restart, is given its start command again.
 */
import type { Command, StartCommand } from './commands.js';
import { pickLyriaSettings } from './lyriaSettings.js';

export interface DesiredState {
  playing: boolean;
  /** The start command that would recreate the music (with its request_id). */
  start?: StartCommand;
  updated_at: number;
}

/** The desired state after `command`, or undefined when the command does not change it. */
export function nextDesired(current: DesiredState | undefined, command: Command): DesiredState | undefined {
  const now = Date.now();
  switch (command.type) {
    case 'start_continuous_music':
      return { playing: true, start: command, updated_at: now };
    case 'stop_continuous_music':
      return { playing: false, updated_at: now };
    case 'set_music_prompts':
    case 'set_music_config': {
      const start = current?.start;
      if (!current?.playing || start?.source !== 'lyria') return undefined;
      const change = command.type === 'set_music_prompts' ? { prompts: command.prompts } : pickLyriaSettings(command);
      return { ...current, start: { ...start, ...change }, updated_at: now };
    }
    default:
      return undefined;
  }
}
