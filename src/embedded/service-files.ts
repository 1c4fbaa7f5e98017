// Files both embedded services (Postgres, Redis) keep in their directory the
// same way: the password made on first start, and the log whose last lines
// explain a start that failed.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';

/** The service's password: read from `file`, or made (random, 0600) on first start so restarts keep it. */
export async function readOrMakePassword(file: string): Promise<string> {
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing !== null && existing.trim()) return existing.trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** The last `n` lines of some output, on one line for an error message. */
export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** The last lines of a log file ('' when it is missing). */
export async function logTail(file: string): Promise<string> {
  return lastLines(await readFile(file, 'utf8').catch(() => ''));
}
