// `holdpoint policy import --from SOURCE`: the products it reads, by name. Pure.
import { fromAgentHalt } from './agenthalt.ts';
import { fromAgentSentinel } from './agentsentinel.ts';
import type { ImportResult } from './reader.ts';

export type { ImportNote, ImportResult } from './reader.ts';

export const IMPORT_SOURCES = {
  agentsentinel: fromAgentSentinel,
  agenthalt: fromAgentHalt,
} as const satisfies Record<string, (doc: unknown) => ImportResult>;

export type ImportSource = keyof typeof IMPORT_SOURCES;

export const isImportSource = (s: string): s is ImportSource => Object.hasOwn(IMPORT_SOURCES, s);
