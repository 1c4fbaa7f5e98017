// The Holdpoint processes under test: the real CLI, `holdpoint start --api` on
// two ports and `holdpoint start --worker` twice. Each can be SIGKILLed and
// started again; a process that exits without being killed is a finding.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { ROOT, freePort } from '../../test/helpers/processes.ts';

const BIN = path.join(ROOT, 'bin', 'holdpoint.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface UnexpectedExit {
  name: string;
  at: number;
  code: number | string;
  tail: string;
}

export interface Member {
  name: string;
  role: 'api' | 'worker';
  /** The API's base URL (APIs only). */
  base?: string;
  /** Is it running (spawned and not known to have exited)? */
  alive(): boolean;
  /** When it was last killed by us, and when it was ready again (ms since epoch). */
  kills: { at: number; back?: number }[];
  tail(): string;
  /** Every log file this member wrote (one per start). */
  logFiles: string[];
}

interface Slot extends Member {
  proc?: ChildProcess;
  gen: number;
  killedByUs: boolean;
  /** startSlot is waiting for it: an exit now is a failed boot, retried there. */
  booting: boolean;
  out: string;
  log?: WriteStream;
}

export interface Fleet {
  members: Member[];
  apis: Member[];
  workers: Member[];
  startAll(): Promise<void>;
  /** SIGKILL one member and start it again after `downMs`; resolves once it is ready. */
  killAndRestart(name: string, downMs: number): Promise<{ at: number; back: number }>;
  /** SIGKILL several at once, start them again after `downMs`. */
  killManyAndRestart(names: string[], downMs: number): Promise<{ at: number; back: number }>;
  unexpectedExits: UnexpectedExit[];
  stopAll(): Promise<void>;
  stopAllSync(): void;
}

/** Lines that say a process is ready (the API also answers /readyz). */
const READY_LINE = /"msg":"(workers started|api listening)"/;

export async function createFleet(env: Record<string, string>, logDir: string): Promise<Fleet> {
  const slots: Slot[] = [];
  const unexpectedExits: UnexpectedExit[] = [];
  let stopping = false;
  for (const i of [0, 1]) {
    const port = await freePort();
    slots.push(makeSlot(`api${i}`, 'api', `http://127.0.0.1:${port}`, { PORT: String(port) }));
  }
  for (const i of [0, 1]) slots.push(makeSlot(`worker${i}`, 'worker', undefined, { PORT: '0' }));

  function makeSlot(name: string, role: 'api' | 'worker', base: string | undefined, extra: Record<string, string>): Slot & { extra: Record<string, string> } {
    const slot = {
      name,
      role,
      ...(base ? { base } : {}),
      gen: 0,
      killedByUs: false,
      booting: false,
      out: '',
      kills: [] as Member['kills'],
      logFiles: [] as string[],
      extra,
      alive: () => Boolean(slot.proc && slot.proc.exitCode === null && slot.proc.signalCode === null),
      tail: () => slot.out.slice(-6_000),
    } as Slot & { extra: Record<string, string> };
    return slot;
  }

  function spawnSlot(slot: Slot & { extra?: Record<string, string> }): ChildProcess {
    slot.gen += 1;
    slot.killedByUs = false;
    slot.out = '';
    slot.log?.end();
    const file = path.join(logDir, `${slot.name}.${slot.gen}.log`);
    slot.logFiles.push(file);
    slot.log = createWriteStream(file);
    const p = spawn(process.execPath, [BIN, 'start', slot.role === 'api' ? '--api' : '--worker'], {
      // APIs log every request at info; workers say "workers started" at info.
      env: { ...process.env, ...env, LOG_LEVEL: slot.role === 'api' ? 'warn' : 'info', ...(slot.extra ?? {}) },
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = (d: Buffer) => {
      slot.out = (slot.out + d.toString()).slice(-50_000);
      slot.log?.write(d);
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    p.once('exit', (code, sig) => {
      if (slot.killedByUs || slot.booting || stopping || slot.proc !== p) return;
      unexpectedExits.push({ name: slot.name, at: Date.now(), code: code ?? sig ?? -1, tail: slot.out.slice(-4_000) });
      // Keep the run going, as a supervisor would: start it again. The exit is
      // reported; its downtime counts like a kill's (connection errors meanwhile are explained).
      const down = { at: Date.now() } as { at: number; back?: number };
      slot.kills.push(down);
      void startSlot(slot).then(
        () => (down.back = Date.now()),
        () => undefined,
      );
    });
    slot.proc = p;
    return p;
  }

  async function ready(slot: Slot, p: ChildProcess, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (p.exitCode !== null || p.signalCode !== null) return false;
      if (slot.role === 'api') {
        try {
          const r = await fetch(`${slot.base}/readyz`, { signal: AbortSignal.timeout(2_000) });
          if (r.status === 200) return true;
        } catch {
          // not listening yet
        }
      } else if (READY_LINE.test(slot.out)) {
        return true;
      }
      await sleep(50);
    }
    return false;
  }

  /** Starts a slot, trying again while boot fails (a dependency may be restarting). */
  async function startSlot(slot: Slot): Promise<void> {
    const deadline = Date.now() + 90_000;
    slot.booting = true;
    try {
      await bootLoop(slot, deadline);
    } finally {
      slot.booting = false;
    }
  }

  async function bootLoop(slot: Slot, deadline: number): Promise<void> {
    for (;;) {
      const p = spawnSlot(slot);
      if (await ready(slot, p, 30_000)) return;
      if (p.exitCode === null && p.signalCode === null) {
        slot.killedByUs = true;
        p.kill('SIGKILL');
      }
      if (stopping) return;
      if (Date.now() > deadline) throw new Error(`${slot.name} did not become ready:\n${slot.out.slice(-4_000)}`);
      await sleep(500);
    }
  }

  async function kill(slot: Slot): Promise<void> {
    const p = slot.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    slot.killedByUs = true;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  const byName = (name: string) => {
    const s = slots.find((x) => x.name === name);
    if (!s) throw new Error(`no fleet member ${name}`);
    return s;
  };

  const fleet: Fleet = {
    members: slots,
    apis: slots.filter((s) => s.role === 'api'),
    workers: slots.filter((s) => s.role === 'worker'),
    unexpectedExits,
    async startAll() {
      await Promise.all(slots.map((s) => startSlot(s)));
    },
    async killAndRestart(name, downMs) {
      return fleet.killManyAndRestart([name], downMs);
    },
    async killManyAndRestart(names, downMs) {
      const targets = names.map(byName);
      const at = Date.now();
      await Promise.all(targets.map(kill));
      const entries = targets.map((t) => {
        const e = { at } as { at: number; back?: number };
        t.kills.push(e);
        return e;
      });
      await sleep(downMs);
      await Promise.all(targets.map((t) => startSlot(t)));
      const back = Date.now();
      for (const e of entries) e.back = back;
      return { at, back };
    },
    async stopAll() {
      stopping = true;
      await Promise.all(
        slots.map(async (s) => {
          const p = s.proc;
          if (!p || p.exitCode !== null || p.signalCode !== null) return;
          const gone = new Promise((r) => p.once('exit', r));
          p.kill('SIGKILL');
          await gone;
        }),
      );
      for (const s of slots) s.log?.end();
    },
    stopAllSync() {
      stopping = true;
      for (const s of slots) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
    },
  };
  return fleet;
}
