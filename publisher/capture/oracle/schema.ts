import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { findUp } from '../../../common/find-up.js';

/** The scripts in `sql/oracle/`, in the order a DBA runs them, and who runs each (see its README). */
export const oracleScripts = {
  /** Schema owner: sequence, outbox table, indexes, `tweetbus_new_id`, `tweetbus_capture`. */
  outbox: '001_outbox.sql',
  /** Schema owner: the demo's `dvx_orders` and its capture trigger. */
  demoOrders: '010_orders.sql',
  /** Schema owner: grants for the relay's user (`relay_user`). */
  relayGrants: '020_relay_grants.sql',
  /** DBA, HTTP callback option only: network ACL and grants (`tweetbus_owner`, `publisher_host`, `publisher_port`). */
  httpCallbackAcl: '030_http_callback_acl.sql',
  /** Schema owner, HTTP callback option only: package, kick trigger, scheduler job (`publisher_events_url`). */
  httpCallback: '031_http_callback.sql',
} as const;

const marker = join('sql', 'oracle', oracleScripts.outbox);

/** Finds the repository's `sql/oracle` directory by walking up from `fromUrl` (a module URL), from the sources or from dist/. */
export function locateOracleSqlDir(fromUrl: string | URL = import.meta.url): string {
  const root = findUp(marker, fromUrl);
  if (root === undefined) throw new Error(`No ${marker} found in ${dirname(fileURLToPath(fromUrl))} or any directory above it`);
  return join(root, 'sql', 'oracle');
}

/** SQL*Plus commands that only steer SQL*Plus itself; a driver has nothing to send for them. */
const sqlPlusCommand = /^(SET|PROMPT|WHENEVER|DEFINE|UNDEFINE|SPOOL|SHOW|REM|REMARK|PAUSE|COLUMN|TTITLE|BTITLE)\b/i;

/** A statement SQL*Plus ends at a line holding only `/`, because `;` occurs inside it. */
const plsqlStart = /^(BEGIN|DECLARE|CREATE\s+(OR\s+REPLACE\s+)?((NON)?EDITIONABLE\s+)?(PROCEDURE|FUNCTION|PACKAGE|TRIGGER|TYPE)\b)/i;

/**
 * Splits a script written for SQL*Plus or SQLcl into the statements a driver executes one by one,
 * the way SQL*Plus reads it:
 * - a PL/SQL block or unit (BEGIN, DECLARE, CREATE [OR REPLACE] PROCEDURE/FUNCTION/PACKAGE/TRIGGER/TYPE)
 *   runs to a line holding only `/`, and keeps its final `END;`;
 * - any other statement runs to the first line that ends with `;`, which is dropped (the server
 *   refuses it);
 * - between statements, blank lines, `--` comments and SQL*Plus commands (SET, WHENEVER, DEFINE, …)
 *   are skipped.
 * `&&name` and `&name` are replaced with `defines[name]` (names ignore case); a name without a value
 * throws, so a script never runs with a placeholder left in it.
 */
export function splitSqlPlusScript(text: string, defines: Readonly<Record<string, string>> = {}): string[] {
  const values = new Map(Object.entries(defines).map(([name, value]) => [name.toLowerCase(), value]));
  const substituted = text.replace(/&&?([A-Za-z_][A-Za-z0-9_$#]*)/g, (_match, name: string) => {
    const value = values.get(name.toLowerCase());
    if (value === undefined) throw new Error(`the script needs a value for the substitution variable ${name}`);
    return value;
  });

  const statements: string[] = [];
  let current: string[] = [];
  let plsql = false;
  for (const line of substituted.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (current.length === 0) {
      if (trimmed === '' || trimmed.startsWith('--') || sqlPlusCommand.test(trimmed)) continue;
      plsql = plsqlStart.test(trimmed);
    }
    if (plsql) {
      if (trimmed === '/') {
        statements.push(current.join('\n').trim());
        current = [];
      } else {
        current.push(line);
      }
      continue;
    }
    if (trimmed.endsWith(';')) {
      current.push(line.slice(0, line.lastIndexOf(';')));
      statements.push(current.join('\n').trim());
      current = [];
    } else {
      current.push(line);
    }
  }
  if (current.some((l) => l.trim() !== '' && !l.trim().startsWith('--'))) {
    throw new Error(`the script ends inside a statement that has no terminating ${plsql ? '"/" line' : '";"'}: ${current.join('\n').trim().slice(0, 80)}`);
  }
  return statements;
}

/** What running a script needs of a connection: one statement at a time. */
export interface OracleScriptRunner {
  execute(sql: string): Promise<unknown>;
}

// Oracle creates a PL/SQL unit that does not compile, and says so only as a warning (ORA-24344,
// which node-oracledb reports as result.warning, NJS-700).
const executeResult = z.object({ warning: z.object({ message: z.string() }).optional() }).loose();
const compileErrors = z.object({ rows: z.array(z.tuple([z.string(), z.string(), z.number(), z.number(), z.string()])) }).loose();

/**
 * Runs each statement of a SQL*Plus script in order (see `splitSqlPlusScript`). Stops at the first
 * error, and treats a unit created with compilation errors as one, quoting USER_ERRORS.
 */
export async function runOracleScript(connection: OracleScriptRunner, text: string, defines: Readonly<Record<string, string>> = {}): Promise<void> {
  for (const statement of splitSqlPlusScript(text, defines)) {
    const result = executeResult.safeParse(await connection.execute(statement));
    const warning = result.success ? result.data.warning : undefined;
    if (warning === undefined) continue;
    const errors = compileErrors.safeParse(
      await connection.execute('SELECT name, type, line, position, text FROM user_errors ORDER BY name, type, sequence'),
    );
    const details = errors.success ? errors.data.rows.slice(0, 5).map(([name, type, line, position, message]) => `${type} ${name} ${line}:${position} ${message.trim()}`) : [];
    throw new Error([`${statement.split('\n')[0] ?? ''}: ${warning.message}`, ...details].join('\n  '));
  }
}

/**
 * Creates the outbox (001) and, with `demoOrders`, the demo's `dvx_orders` with its trigger (010) in
 * the connection's schema. Idempotent, like the scripts. For tests and for a database whose DDL the
 * publisher may own; elsewhere a DBA runs the scripts.
 */
export async function applyOracleOutboxSchema(
  connection: OracleScriptRunner,
  options: { readonly sqlDir?: string; readonly demoOrders?: boolean } = {},
): Promise<void> {
  const sqlDir = options.sqlDir ?? locateOracleSqlDir();
  const files = options.demoOrders === true ? [oracleScripts.outbox, oracleScripts.demoOrders] : [oracleScripts.outbox];
  for (const file of files) {
    await runOracleScript(connection, await readFile(join(sqlDir, file), 'utf8'));
  }
}
