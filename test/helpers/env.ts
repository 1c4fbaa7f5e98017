// Where the test suite finds the real services. Override with TEST_DATABASE_URL / TEST_REDIS_URL.
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// Overridable so two checkouts can run their suites at once without dropping each other's template.
export const TEMPLATE_DB = process.env.HOLDPOINT_TEST_TEMPLATE ?? 'holdpoint_test_template';

export function databaseUrl(name: string): string {
  const u = new URL(ADMIN_DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * The suite's HOLDPOINT_SECRET_KEY (a fixed test key: nothing it seals is real),
 * so no test falls back to generating ./.holdpoint/secret.key in the checkout.
 */
export const TEST_SECRET_KEY = 'aG9sZHBvaW50LXRlc3Qtc2VjcmV0LWtleS0zMmJ5dGU=';
