// Which copy of postgres.js the driver repros run on. By default the installed
// one (node_modules/postgres, carrying patches/postgres+3.4.9.patch);
// HOLDPOINT_PG_DRIVER=<path to a copy's src/index.js or cjs/src/index.js> loads
// another — the driver-patch test points it at an unpatched copy to show that
// the repros still catch the bugs the patch fixes.
import { pathToFileURL } from 'node:url';
import type postgres from 'postgres';

export async function loadDriver(): Promise<{ driver?: typeof postgres; label: string }> {
  const file = process.env.HOLDPOINT_PG_DRIVER;
  if (!file) return { label: 'installed postgres.js' };
  const mod = (await import(pathToFileURL(file).href)) as { default: typeof postgres };
  return { driver: mod.default, label: file };
}
