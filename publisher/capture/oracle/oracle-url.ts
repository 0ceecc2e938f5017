import { ConfigError } from '../../../common/errors.js';

/** The parts of an Oracle URL that node-oracledb's Thin mode needs. */
export interface OracleConnectOptions {
  readonly user: string;
  readonly password: string;
  /** Easy Connect: `host:port/service`. */
  readonly connectString: string;
  /** From `?schema=`: the schema that owns the outbox, when it is not the user's own. */
  readonly schema?: string;
}

/** An unquoted Oracle identifier: safe to put into SQL text. */
export const identifier = /^[A-Za-z][A-Za-z0-9_$#]{0,127}$/;

/**
 * Reads `oracle://user:password@host[:port]/service[?schema=OWNER]` (user and password
 * percent-encoded). Throws a ConfigError that names `name` and what is wrong, never the password.
 */
export function parseOracleUrl(url: string, name = 'the Oracle URL'): OracleConnectOptions {
  const problem = (what: string): ConfigError =>
    new ConfigError([`${name} should look like oracle://user:password@host:port/service: ${what}`]);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw problem('it is not a URL');
  }
  if (parsed.protocol !== 'oracle:') throw problem(`its scheme is "${parsed.protocol.replace(/:$/, '')}", not "oracle"`);
  if (parsed.username === '') throw problem('the user is missing');
  if (parsed.password === '') throw problem('the password is missing');
  if (parsed.hostname === '') throw problem('the host is missing');
  const service = parsed.pathname.replace(/^\//, '');
  if (service === '') throw problem('the service name (after the host) is missing');
  let user: string;
  let password: string;
  try {
    user = decodeURIComponent(parsed.username);
    password = decodeURIComponent(parsed.password);
  } catch {
    throw problem('the user or the password is not valid percent-encoding');
  }
  let schema: string | undefined;
  for (const [key, value] of parsed.searchParams) {
    if (key !== 'schema') throw problem(`"${key}" is not a known parameter (only schema is)`);
    if (!identifier.test(value)) throw problem('schema must be an unquoted Oracle identifier (letters, digits, _ $ #)');
    schema = value;
  }
  const connectString = `${parsed.hostname}${parsed.port === '' ? '' : `:${parsed.port}`}/${service}`;
  return { user, password, connectString, ...(schema === undefined ? {} : { schema }) };
}
