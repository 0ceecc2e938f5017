import type { StoreFailureKind } from '../../../common/errors.js';

/**
 * What a PostgreSQL failure says about itself, for both `pg` and PGlite (which report the server's
 * ErrorResponse with the same fields).
 *
 * Only the server can refuse an event, and it says so with a SQLSTATE. Transient and store-wide
 * SQLSTATEs are `unavailable`: no event could be written until the store recovers or an operator
 * acts, so dead-lettering would only empty the pipeline into the dead letters. Every other SQLSTATE
 * (above all class 22, data exception, and 23, integrity violation) is the event's fault.
 *
 * An error with no SQLSTATE did not come from the server judging the data (a refused or dropped
 * connection, a pool timeout, a closed PGlite): `unavailable`.
 */
export function classifyPostgresError(err: unknown): StoreFailureKind {
  const sqlState = sqlStateOf(err);
  if (sqlState === undefined) return 'unavailable';
  return unavailableStates.has(sqlState) || unavailableClasses.has(sqlState.slice(0, 2)) ? 'unavailable' : 'refused';
}

/** The SQLSTATE of an error the server sent (it comes with a severity), or `undefined`. */
export function sqlStateOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code: unknown = Reflect.get(err, 'code');
  const severity: unknown = Reflect.get(err, 'severity');
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string' ? code : undefined;
}

/** Whole classes that describe the server or the session, never the data. */
const unavailableClasses = new Set([
  '08', // connection exception
  '28', // invalid authorization specification
  '3D', // invalid catalog name: the database is gone
  '3F', // invalid schema name: the schema is gone
  '42', // syntax error or access rule violation: the schema or the grants changed under us (data travels as parameters)
  '53', // insufficient resources: disk full, out of memory, too many connections
  '57', // operator intervention: statement timeout (57014), shutdown, cannot connect now
  '58', // system error: I/O
  'XX', // internal error, corrupted data or index
]);

const unavailableStates = new Set([
  '40000', // transaction rollback
  '40001', // serialization failure
  '40003', // statement completion unknown
  '40P01', // deadlock detected
  '55006', // object in use
  '55P03', // lock not available
  '25006', // read-only transaction: a standby after a failover
  '25P03', // idle-in-transaction timeout
]);
