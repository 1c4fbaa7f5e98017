import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;
/** A connection or an open transaction: every db function accepts either. */
export type Tx = postgres.Sql<Record<string, never>> | postgres.TransactionSql<Record<string, never>>;
/** Only an open transaction (for functions that take transaction-scoped locks). */
export type TxOnly = postgres.TransactionSql<Record<string, never>>;

export interface SqlOptions {
  max?: number;
  onnotice?: (n: postgres.Notice) => void;
  /** Another copy of the driver (the driver-patch tests load an unpatched one); default the installed `postgres`. */
  driver?: typeof postgres;
}

export function createSql(url: string, opts: SqlOptions = {}): Sql {
  return (opts.driver ?? postgres)(url, {
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    // bigint columns (event seq) come back as JS numbers; they stay far below 2^53.
    types: { bigint: postgres.BigInt },
    onnotice: opts.onnotice ?? (() => {}),
    connection: { application_name: 'holdpoint' },
  }) as unknown as Sql;
}

/** Checks that Postgres answers; throws the driver's error otherwise. */
export async function pingSql(sql: Sql): Promise<void> {
  await sql`SELECT 1`;
}
