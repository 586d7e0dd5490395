// Process checks for tests that must prove a process is gone.
import { readFileSync } from 'node:fs';

/**
 * Whether the process still runs. A killed process whose parent is gone stays a zombie until
 * init reaps it (slowly on some machines), and signal 0 still reaches a zombie: read its state.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // "pid (comm) S ...": the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}
