// Redis helpers: our keys on the shared server are all under a private prefix
// and deleted by SCAN + UNLINK (never FLUSHALL there).
import { Redis } from 'ioredis';

export function redisClient(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: false });
}

export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const r = redisClient(url);
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return n;
}

export async function usedMemory(r: Redis): Promise<number> {
  const info = await r.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

export async function redisVersion(r: Redis): Promise<string> {
  const info = await r.info('server');
  return /^redis_version:(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
}
