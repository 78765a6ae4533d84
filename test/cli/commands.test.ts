import { describe, expect, it } from 'vitest';
import { commandOf, COMMANDS } from '../../src/cli/commands.js';

describe('the command table main.ts loads commands from', () => {
  it('lists each command under its own name and with its own description', async () => {
    for (const entry of COMMANDS) {
      const cmd = (await entry.load())();
      expect(cmd.name(), entry.name).toBe(entry.name);
      expect(entry.summary, entry.name).toBe(cmd.description());
    }
  });

  it('finds the command a command line runs, and none for --version or --help', () => {
    expect(commandOf(['--version'])).toBeUndefined();
    expect(commandOf(['-h'])).toBeUndefined();
    expect(commandOf(['sim', 'merge', 'a.json'])?.name).toBe('sim');
    expect(commandOf(['help', 'agent'])?.name).toBe('agent');
    expect(commandOf(['--help', 'csms'])?.name).toBe('csms');
    expect(commandOf(['nonsense'])).toBeUndefined();
  });
});
