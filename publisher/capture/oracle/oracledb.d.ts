// Types for the slice of node-oracledb (6 and later, Thin mode) that the Oracle outbox uses. The
// package ships no declarations and @types/oracledb is not a dependency; if it becomes one, this
// file goes.
declare module 'oracledb' {
  /** One of the `oracledb.DB_TYPE_*` constants. */
  export interface DbType {
    readonly name: string;
    readonly num: number;
  }

  /** A bind with an explicit type, for `execute`; `dir: BIND_OUT` for a procedure's OUT parameter. */
  export interface BindParameter {
    val?: unknown;
    type?: DbType;
    maxSize?: number;
    dir?: number;
  }

  /** The type (and, for strings, the largest size in bytes) of one bind of `executeMany`. */
  export interface BindDefinition {
    type: DbType;
    maxSize?: number;
  }

  export interface FetchInfo {
    type: DbType;
  }

  export interface ExecuteOptions {
    autoCommit?: boolean;
    outFormat?: number;
    /** Per column (by its name as the database reports it): the JavaScript type to fetch it as. */
    fetchInfo?: Record<string, FetchInfo>;
    /** The most rows fetched; the rest of the cursor is never fetched. */
    maxRows?: number;
    /** Rows fetched with the execute round trip. */
    prefetchRows?: number;
    /** Rows fetched per later round trip. */
    fetchArraySize?: number;
  }

  export interface ExecuteManyOptions {
    autoCommit?: boolean;
    bindDefs?: Record<string, BindDefinition>;
  }

  export interface Result {
    /** Present for queries: with `outFormat: OUT_FORMAT_OBJECT`, one object per row keyed by column name. */
    rows?: unknown[];
    /** Present for DML. */
    rowsAffected?: number;
    /** A PL/SQL call's OUT binds, by name. */
    outBinds?: unknown;
  }

  export interface Results {
    rowsAffected?: number;
  }

  export interface Connection {
    /** Binds by name (an object) or by position (an array). */
    execute(sql: string, binds?: Record<string, unknown> | unknown[], options?: ExecuteOptions): Promise<Result>;
    executeMany(sql: string, binds: Record<string, unknown>[], options?: ExecuteManyOptions): Promise<Results>;
    commit(): Promise<void>;
    rollback(): Promise<void>;
    /** Returns a pooled connection to its pool (after rolling back what is uncommitted). */
    close(): Promise<void>;
  }

  export interface Pool {
    getConnection(): Promise<Connection>;
    /** Closes the pool; `drainTime` seconds let connections in use finish first. */
    close(drainTime?: number): Promise<void>;
  }

  export interface PoolAttributes {
    user: string;
    password: string;
    connectString: string;
    poolMin?: number;
    poolMax?: number;
    poolIncrement?: number;
    /** Seconds a connection may sit idle before the pool pings it on checkout. */
    poolPingInterval?: number;
  }

  interface OracleDb {
    createPool(attributes: PoolAttributes): Promise<Pool>;
    readonly DB_TYPE_CLOB: DbType;
    readonly DB_TYPE_NUMBER: DbType;
    readonly DB_TYPE_VARCHAR: DbType;
    readonly OUT_FORMAT_OBJECT: number;
    readonly BIND_OUT: number;
    /** Thin mode (no Oracle Client libraries) unless `initOracleClient` was called. */
    readonly thin: boolean;
  }

  const oracledb: OracleDb;
  export default oracledb;
}
