import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { locateOracleSqlDir, oracleScripts, runOracleScript, splitSqlPlusScript } from './schema.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const sqlDir = join(repoRoot, 'sql', 'oracle');
const read = (file: string) => readFileSync(join(sqlDir, file), 'utf8');

/** Values for every substitution variable the scripts use, as a DBA would DEFINE them. */
const defines = {
  relay_user: 'TWEETBUS_RELAY',
  tweetbus_owner: 'TWEETBUS',
  publisher_host: 'publisher.example.com',
  publisher_port: '3001',
  publisher_events_url: 'http://publisher.example.com:3001/events',
};

const statementsOf = (file: string) => splitSqlPlusScript(read(file), defines);
const allStatements = Object.values(oracleScripts).flatMap(statementsOf);

/** The text of `CREATE TABLE <name> (…)` inside the idempotent block that creates it. */
function createTable(file: string, name: string): string {
  const match = new RegExp(`EXECUTE IMMEDIATE q'\\[\\s*CREATE TABLE ${name} \\(([\\s\\S]*?)\\)\\]'`, 'i').exec(read(file));
  if (match?.[1] === undefined) throw new Error(`${file} has no idempotent CREATE TABLE ${name}`);
  return match[1];
}

/** Column name -> its definition, from the inside of a CREATE TABLE (comments and table constraints left out). */
function columns(tableBody: string): Map<string, string> {
  const body = tableBody.replace(/--[^\n]*/g, '');
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  const result = new Map<string, string>();
  for (const part of parts.map((p) => p.trim().replace(/\s+/g, ' '))) {
    const [name, ...definition] = part.split(' ');
    if (name === undefined || /^CONSTRAINT$/i.test(name)) continue;
    result.set(name.toLowerCase(), definition.join(' '));
  }
  return result;
}

/** Every trigger the scripts create: its name, its header (up to DECLARE/BEGIN) and its body. */
function triggers(): { name: string; header: string; body: string }[] {
  return allStatements.flatMap((statement) => {
    const match = /^CREATE OR REPLACE TRIGGER (\w+)([\s\S]*?)\b(DECLARE|BEGIN)\b([\s\S]*)$/i.exec(statement);
    return match === null ? [] : [{ name: (match[1] ?? '').toLowerCase(), header: match[2] ?? '', body: `${match[3] ?? ''}${match[4] ?? ''}` }];
  });
}

describe('sql/oracle scripts', () => {
  it('are found from the source module and from the build', () => {
    expect(locateOracleSqlDir(pathToFileURL(join(repoRoot, 'publisher', 'capture', 'oracle', 'schema.ts')))).toBe(sqlDir);
    expect(locateOracleSqlDir(pathToFileURL(join(repoRoot, 'dist', 'publisher', 'capture', 'oracle', 'schema.js')))).toBe(sqlDir);
  });

  it('are listed in the README in the order they run', () => {
    const readme = read('README.md');
    const positions = Object.values(oracleScripts).map((file) => readme.indexOf(file));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('each split into statements a driver can run, with no substitution variable left over', () => {
    for (const file of Object.values(oracleScripts)) {
      const statements = statementsOf(file);
      expect(statements.length, file).toBeGreaterThan(0);
      for (const statement of statements) {
        expect(statement, file).not.toMatch(/&/);
        expect(statement, file).not.toMatch(/^(WHENEVER|SET|DEFINE|PROMPT)\b/i);
        // A plain statement must not keep its ";" (the server refuses it); PL/SQL ends with END …;
        if (/^(BEGIN|DECLARE|CREATE OR REPLACE)\b/i.test(statement)) expect(statement, file).toMatch(/END( \w+)?;$/i);
        else expect(statement, file).not.toMatch(/;$/);
      }
    }
  });

  it('never follow a plain statement with a "/" line, which SQL*Plus would take as "run it again"', () => {
    for (const file of Object.values(oracleScripts)) {
      const lines = read(file).split('\n');
      lines.forEach((line, i) => {
        if (line.trim() === '/') expect(lines[i - 1]?.trim(), `${file}:${i + 1}`).toMatch(/^END( \w+)?;$/i);
      });
    }
  });

  it('use substitution variables only where the README says a DBA gives one', () => {
    const variables = (file: string) => [...new Set([...read(file).matchAll(/&&(\w+)/g)].map((m) => m[1]))].sort();
    expect(variables(oracleScripts.outbox)).toEqual([]);
    expect(variables(oracleScripts.demoOrders)).toEqual([]);
    expect(variables(oracleScripts.relayGrants)).toEqual(['relay_user']);
    expect(variables(oracleScripts.httpCallbackAcl)).toEqual(['publisher_host', 'publisher_port', 'tweetbus_owner']);
    expect(variables(oracleScripts.httpCallback)).toEqual(['publisher_events_url']);
    expect(() => splitSqlPlusScript(read(oracleScripts.relayGrants))).toThrow(/relay_user/);
  });

  it('create tables, sequences and indexes in blocks that ignore only "already exists"', () => {
    const creates = allStatements.filter((s) => /CREATE (TABLE|SEQUENCE|INDEX)/i.test(s));
    expect(creates.length).toBeGreaterThanOrEqual(7);
    for (const statement of creates) {
      expect(statement).toMatch(/^BEGIN\s+EXECUTE IMMEDIATE/);
      expect(statement).toMatch(/WHEN OTHERS THEN\s+IF SQLCODE (!= -955|NOT IN \(-955, -1408\)) THEN RAISE; END IF;/);
    }
    const code = allStatements.filter((s) => /^CREATE\b/i.test(s));
    for (const statement of code) expect(statement).toMatch(/^CREATE OR REPLACE /);
  });

  describe('001_outbox.sql', () => {
    const script = read(oracleScripts.outbox);
    const outbox = columns(createTable(oracleScripts.outbox, 'tweetbus_outbox'));

    it('keeps the version clock in one row, moved only forward, in an autonomous transaction of its own', () => {
      const clock = columns(createTable(oracleScripts.outbox, 'tweetbus_clock'));
      expect(clock.get('id')).toMatch(/PRIMARY KEY\s+CONSTRAINT tweetbus_clock_one_row CHECK \(id = 1\)/);
      expect(clock.get('last_version')).toMatch(/^NUMBER\(20\) NOT NULL/);
      const next = allStatements.find((s) => /^CREATE OR REPLACE FUNCTION tweetbus_next_version\b/.test(s)) ?? '';
      expect(next).toMatch(/PRAGMA AUTONOMOUS_TRANSACTION;/);
      expect(next).toMatch(/l_clock := GREATEST\(l_ms - 1288834974657, 0\) \* 4194304;/);
      expect(next.match(/SET last_version = GREATEST\(last_version \+ 1, l_clock\) WHERE id = 1/g)).toHaveLength(2);
      expect(next).toMatch(/COMMIT;\s+RETURN l_version;/);
      expect(script).not.toMatch(/CREATE SEQUENCE/);
    });

    it('stamps created_at with the time the version stands for', () => {
      const time = allStatements.find((s) => /^CREATE OR REPLACE FUNCTION tweetbus_version_time\b/.test(s)) ?? '';
      expect(time).toMatch(/NUMTODSINTERVAL\(\(TRUNC\(p_version \/ 4194304\) \+ 1288834974657\) \/ 1000, 'SECOND'\)/);
    });

    it('creates the outbox with the Debezium outbox column names and the envelope fields', () => {
      expect(outbox.get('id')).toMatch(/^VARCHAR2\(128 CHAR\) .*PRIMARY KEY/);
      expect(outbox.get('aggregatetype')).toMatch(/^VARCHAR2\(\d+ CHAR\) NOT NULL/);
      expect(outbox.get('aggregateid')).toMatch(/^VARCHAR2\(\d+ CHAR\) NOT NULL/);
      expect(outbox.get('type')).toMatch(/^VARCHAR2\(\d+ CHAR\) NOT NULL/);
      expect(outbox.get('payload')).toMatch(/^CLOB .*CHECK \(payload IS JSON\b/);
      expect(outbox.get('version')).toMatch(/^NUMBER\(20\) NOT NULL/);
      expect(outbox.get('op')).toMatch(/CHECK \(op IN \('upsert', 'delete'\)\)/);
      expect(outbox.get('source')).toMatch(/NOT NULL/);
      expect(outbox.get('created_at')).toMatch(/^TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL/);
      expect(outbox.get('correlation_id')).toMatch(/^VARCHAR2/);
      expect(outbox.get('seq')).toMatch(/^NUMBER GENERATED ALWAYS AS IDENTITY \(.*\bORDER\)/);
      expect(outbox.get('published_at')).toMatch(/^TIMESTAMP WITH TIME ZONE$/);
      expect(outbox.get('failed_at')).toMatch(/^TIMESTAMP WITH TIME ZONE$/);
      expect(outbox.get('failed_reason')).toMatch(/^VARCHAR2\(1000 CHAR\)$/);
    });

    it('keeps claims per row and no high-water mark', () => {
      expect(outbox.get('claimed_by')).toMatch(/^VARCHAR2/);
      expect(outbox.get('claimed_until')).toBe('TIMESTAMP WITH TIME ZONE');
      expect([...outbox.keys()].sort()).toEqual(
        ['aggregateid', 'aggregatetype', 'claimed_by', 'claimed_until', 'correlation_id', 'created_at', 'failed_at', 'failed_reason', 'id', 'op', 'payload', 'published_at', 'seq', 'source', 'type', 'version'].sort(),
      );
      expect(script).not.toMatch(/CREATE TABLE \w*(checkpoint|high_water|offset)/i);
    });

    it('indexes the relay scan, the per-key lookups and the dead letters', () => {
      expect(script).toMatch(/CREATE INDEX tweetbus_outbox_pending ON tweetbus_outbox \(published_at, failed_at, seq\)/);
      expect(script).toMatch(/CREATE INDEX tweetbus_outbox_key ON tweetbus_outbox \(aggregatetype, aggregateid, seq\)/);
      expect(script).toMatch(/CREATE INDEX tweetbus_outbox_failed ON tweetbus_outbox \(failed_at\)/);
    });

    it('captures with a version from the clock, an upsert for the new key and a delete with no payload for an old one', () => {
      const capture = allStatements.find((s) => /^CREATE OR REPLACE PROCEDURE tweetbus_capture\b/.test(s));
      expect(capture).toBeDefined();
      expect(capture?.match(/l_version := tweetbus_next_version;/g)).toHaveLength(2);
      expect(capture).toMatch(/p_collection \|\| '\.deleted', NULL,\s+l_version, 'delete', p_source, tweetbus_version_time\(l_version\)/);
      expect(capture).toMatch(/p_collection \|\| '\.upserted', p_image,\s+l_version, 'upsert', p_source, tweetbus_version_time\(l_version\)/);
      expect(capture).toMatch(/p_old_key IS NOT NULL AND \(p_new_key IS NULL OR p_new_key <> p_old_key\)/);
      expect(capture).not.toMatch(/COMMIT|UTL_HTTP/i);
    });

    it('keeps each captured key\'s last version in a register, and the snapshots\' progress and captured tables', () => {
      expect([...columns(createTable(oracleScripts.outbox, 'tweetbus_key_versions')).keys()]).toEqual(['aggregatetype', 'aggregateid', 'version']);
      expect(createTable(oracleScripts.outbox, 'tweetbus_key_versions')).toMatch(/PRIMARY KEY \(aggregatetype, aggregateid\)/);
      expect([...columns(createTable(oracleScripts.outbox, 'tweetbus_snapshots')).keys()]).toEqual(['table_name', 'collection', 'started_at', 'last_key', 'rows_enqueued', 'finished_at']);
      expect([...columns(createTable(oracleScripts.outbox, 'tweetbus_captured')).keys()]).toEqual(['table_name', 'collection', 'key_column', 'chunk_procedure']);
      const capture = allStatements.find((st) => /^CREATE OR REPLACE PROCEDURE tweetbus_capture\b/.test(st)) ?? '';
      expect(capture).toMatch(/'delete', p_source, tweetbus_version_time\(l_version\)\);\s+DELETE FROM tweetbus_key_versions WHERE aggregatetype = p_collection AND aggregateid = p_old_key;/);
      expect(capture).toMatch(/'upsert', p_source, tweetbus_version_time\(l_version\)\);\s+MERGE INTO tweetbus_key_versions r/);
      expect(capture).toMatch(/WHEN MATCHED THEN UPDATE SET r\.version = c\.version/);
    });

    it('makes 22-character base64url ids', () => {
      expect(script).toMatch(/FUNCTION tweetbus_new_id[\s\S]*TRANSLATE\(RTRIM\(UTL_RAW\.CAST_TO_VARCHAR2\(UTL_ENCODE\.BASE64_ENCODE\(SYS_GUID\(\)\)\), '='\), '\+\/', '-_'\)/);
    });
  });

  describe('010_orders.sql', () => {
    const orders = columns(createTable(oracleScripts.demoOrders, 'dvx_orders'));

    it('creates dvx_orders with the original columns', () => {
      expect([...orders.keys()]).toEqual(['id', 'status', 'customer_id', 'customer_name', 'shipping_destination', 'last_updated_timestamp']);
      expect(orders.get('id')).toMatch(/^VARCHAR2\(200\) .*PRIMARY KEY/);
      expect(orders.get('status')).toBe('VARCHAR2(100)');
      expect(orders.get('customer_id')).toBe('VARCHAR2(200)');
      expect(orders.get('customer_name')).toBe('VARCHAR2(200)');
      expect(orders.get('shipping_destination')).toBe('VARCHAR2(200)');
      expect(orders.get('last_updated_timestamp')).toMatch(/^TIMESTAMP\(0\) WITH TIME ZONE DEFAULT SYSTIMESTAMP/);
    });

    it('captures every change with an AFTER INSERT OR UPDATE OR DELETE row trigger that writes the full image as JSON_OBJECT', () => {
      const trigger = triggers().find((t) => t.name === 'dvx_orders_capture');
      expect(trigger?.header).toMatch(/^\s*AFTER INSERT OR UPDATE OR DELETE ON dvx_orders\s+FOR EACH ROW\s*$/);
      const body = trigger?.body ?? '';
      expect(body).toMatch(/dvx_orders_image\(:NEW\.id, :NEW\.status, :NEW\.customer_id, :NEW\.customer_name,\s+:NEW\.shipping_destination, :NEW\.last_updated_timestamp\)/);
      expect(body).toMatch(/tweetbus_capture\('orders', 'dvx_orders', :OLD\.id, :NEW\.id, l_image\)/);
      expect(body).not.toMatch(/COMMIT/i);
      const image = statementsOf(oracleScripts.demoOrders).find((st) => /^CREATE OR REPLACE FUNCTION dvx_orders_image\b/.test(st)) ?? '';
      expect(image).toMatch(/JSON_OBJECT\(/);
      for (const column of orders.keys()) expect(image).toMatch(new RegExp(`'${column}'\\s+VALUE (p_${column}|TO_CHAR\\(SYS_EXTRACT_UTC\\(p_${column}\\))`));
      expect(image).toMatch(/NULL ON NULL\s+RETURNING CLOB/);
      expect(image).toMatch(/TO_CHAR\(SYS_EXTRACT_UTC\(p_last_updated_timestamp\), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'\)/);
    });

    it('snapshots a chunk: its last key read first, its rows locked FOR UPDATE in key order, each captured with the same image and no old key', () => {
      const chunk = statementsOf(oracleScripts.demoOrders).find((st) => /^CREATE OR REPLACE PROCEDURE dvx_orders_snapshot_chunk\b/.test(st)) ?? '';
      expect(chunk).toMatch(/p_after_key IN\s+VARCHAR2,\s+p_max_rows\s+IN\s+NUMBER,\s+p_enqueued\s+OUT NUMBER,\s+p_last_key\s+OUT VARCHAR2,\s+p_last\s+OUT NUMBER/);
      // The bound: at most p_max_rows keys after p_after_key, without locks (FOR UPDATE takes no row limit).
      expect(chunk).toMatch(/SELECT COUNT\(\*\), MAX\(id\) INTO l_keys, p_last_key\s+FROM \(SELECT id FROM dvx_orders\s+WHERE p_after_key IS NULL OR id > p_after_key\s+ORDER BY id\s+FETCH FIRST p_max_rows ROWS ONLY\)/);
      expect(chunk).toMatch(/p_last := CASE WHEN l_keys < p_max_rows THEN 1 ELSE 0 END/);
      expect(chunk).toMatch(/WHERE \(p_after_key IS NULL OR t\.id > p_after_key\) AND t\.id <= p_last_key\s+ORDER BY t\.id\s+FOR UPDATE\)/);
      expect(chunk).toMatch(/tweetbus_capture\('orders', 'dvx_orders', NULL, r\.id,\s+dvx_orders_image\(r\.id, r\.status, r\.customer_id, r\.customer_name, r\.shipping_destination, r\.last_updated_timestamp\)\)/);
      // The caller commits the chunk with its progress.
      expect(chunk).not.toMatch(/COMMIT/i);
      const registration = statementsOf(oracleScripts.demoOrders).find((st) => /MERGE INTO tweetbus_captured\b/.test(st)) ?? '';
      expect(registration).toMatch(/'DVX_ORDERS' AS table_name, 'orders' AS collection/);
      expect(registration).toMatch(/VALUES \(t\.table_name, t\.collection, 'ID', 'DVX_ORDERS_SNAPSHOT_CHUNK'\)/);
    });
  });

  it('020 grants the relay user SELECT, INSERT, UPDATE and DELETE on the outbox, and nothing else', () => {
    const grants = statementsOf(oracleScripts.relayGrants);
    expect(grants).toEqual(['GRANT SELECT, INSERT, UPDATE, DELETE ON tweetbus_outbox TO TWEETBUS_RELAY']);
  });

  it('030 opens the network ACL for the owner to the publisher, and grants UTL_HTTP and jobs', () => {
    const [ace, ...grants] = statementsOf(oracleScripts.httpCallbackAcl);
    expect(ace).toMatch(/DBMS_NETWORK_ACL_ADMIN\.APPEND_HOST_ACE\(/);
    expect(ace).toMatch(/host\s+=> 'publisher\.example\.com'/);
    expect(ace).toMatch(/lower_port => 3001,\s+upper_port => 3001/);
    expect(ace).toMatch(/privilege_list => xs\$name_list\('http'\)/);
    expect(ace).toMatch(/principal_name => UPPER\('TWEETBUS'\)/);
    expect(grants).toEqual(['GRANT EXECUTE ON SYS.UTL_HTTP TO TWEETBUS', 'GRANT CREATE JOB TO TWEETBUS']);
  });

  describe('031_http_callback.sql', () => {
    const statements = statementsOf(oracleScripts.httpCallback);
    const body = statements.find((s) => /^CREATE OR REPLACE PACKAGE BODY tweetbus_http_callback\b/.test(s)) ?? '';

    it('POSTs to the publisher from a package run by a repeating scheduler job', () => {
      expect(body).toMatch(/UTL_HTTP\.BEGIN_REQUEST\(p_url, 'POST'/);
      expect(body).toMatch(/'Content-Type', 'application\/json'/);
      const job = statements.find((s) => s.includes('DBMS_SCHEDULER.CREATE_JOB'));
      expect(job).toMatch(/job_action\s+=> 'TWEETBUS_HTTP_CALLBACK\.PUBLISH_PENDING'/);
      expect(job).toMatch(/repeat_interval => 'FREQ=SECONDLY; INTERVAL=\d+'/);
      expect(job).toMatch(/SQLCODE != -27477/);
    });

    it('stores the publisher URL it was given', () => {
      expect(statements.find((s) => s.startsWith('MERGE INTO tweetbus_callback_state'))).toContain("'http://publisher.example.com:3001/events' AS events_url");
    });

    it('marks rows published only after a 2xx answer', () => {
      const published = body.indexOf('SET published_at = SYSTIMESTAMP');
      expect(published).toBeGreaterThan(body.indexOf('IF l_status BETWEEN 200 AND 299 THEN'));
      expect(published).toBeGreaterThan(body.indexOf('post_events(l_url, l_body, l_status, l_answer)'));
      expect(body.match(/published_at = SYSTIMESTAMP/g)).toHaveLength(1);
    });

    it('is kicked at commit by DBMS_JOB.SUBMIT from a statement trigger', () => {
      expect(body).toMatch(/PROCEDURE kick[\s\S]*DBMS_JOB\.SUBMIT\(l_job, 'tweetbus_http_callback\.publish_pending;'\)/);
      const kick = triggers().find((t) => t.name === 'tweetbus_outbox_kick');
      expect(kick?.header).toMatch(/^\s*AFTER INSERT ON tweetbus_outbox\s*$/);
      expect(kick?.body).toMatch(/tweetbus_http_callback\.kick;/);
    });
  });

  it('never call HTTP, sleep or commit inside a row trigger', () => {
    const rowTriggers = triggers().filter((t) => /FOR EACH ROW/i.test(t.header));
    expect(rowTriggers.map((t) => t.name)).toEqual(['dvx_orders_capture']);
    for (const trigger of triggers()) {
      expect(trigger.body, trigger.name).not.toMatch(/UTL_HTTP|DBMS_SCHEDULER|DBMS_SESSION\.SLEEP|COMMIT/i);
    }
    const usingHttp = allStatements.filter((s) => s.includes('UTL_HTTP')).map((s) => /^[^\n(]*/.exec(s)?.[0]);
    expect(usingHttp).toEqual(['GRANT EXECUTE ON SYS.UTL_HTTP TO TWEETBUS', 'CREATE OR REPLACE PACKAGE BODY tweetbus_http_callback']);
  });
});

describe('splitting SQL*Plus scripts', () => {
  it('ends PL/SQL at a "/" line and plain SQL at ";", skipping comments and SQL*Plus commands', () => {
    const script = [
      '-- a comment',
      'WHENEVER SQLERROR EXIT SQL.SQLCODE',
      'SET DEFINE ON',
      '',
      'BEGIN',
      '  NULL; -- inside',
      'END;',
      '/',
      'CREATE OR REPLACE PACKAGE BODY p IS',
      '  PROCEDURE x IS BEGIN NULL; END;',
      'END p;',
      '/',
      'GRANT SELECT',
      '  ON t TO u;',
      'COMMIT;',
    ].join('\n');

    expect(splitSqlPlusScript(script)).toEqual([
      'BEGIN\n  NULL; -- inside\nEND;',
      'CREATE OR REPLACE PACKAGE BODY p IS\n  PROCEDURE x IS BEGIN NULL; END;\nEND p;',
      'GRANT SELECT\n  ON t TO u',
      'COMMIT',
    ]);
  });

  it('replaces &&name and &name from the defines, ignoring case', () => {
    expect(splitSqlPlusScript('GRANT SELECT ON t TO &&Relay_User;\nGRANT SELECT ON t TO &relay_user;', { RELAY_USER: 'r' })).toEqual([
      'GRANT SELECT ON t TO r',
      'GRANT SELECT ON t TO r',
    ]);
  });

  it('refuses a script that ends inside a statement', () => {
    expect(() => splitSqlPlusScript('BEGIN\n  NULL;\nEND;')).toThrow(/no terminating "\/" line/);
    expect(() => splitSqlPlusScript('GRANT SELECT ON t TO u')).toThrow(/no terminating ";"/);
  });

  it('stops at a unit created with compilation errors, quoting them', async () => {
    const executed: string[] = [];
    const connection = {
      execute: (sql: string) => {
        executed.push(sql);
        if (sql.startsWith('CREATE OR REPLACE TRIGGER')) return Promise.resolve({ warning: { message: 'NJS-700: creation succeeded with compilation errors' } });
        if (sql.includes('user_errors')) return Promise.resolve({ rows: [['T', 'TRIGGER', 3, 5, 'PLS-00201: identifier \'X\' must be declared\n']] });
        return Promise.resolve({});
      },
    };
    const script = 'CREATE OR REPLACE TRIGGER t\n  AFTER INSERT ON x\nBEGIN\n  x;\nEND;\n/\nGRANT a TO b;\n';

    await expect(runOracleScript(connection, script)).rejects.toThrow(
      "CREATE OR REPLACE TRIGGER t: NJS-700: creation succeeded with compilation errors\n  TRIGGER T 3:5 PLS-00201: identifier 'X' must be declared",
    );
    expect(executed).toHaveLength(2);
  });

  it('runs the statements one by one, in order', async () => {
    const executed: string[] = [];
    await runOracleScript({ execute: (sql) => Promise.resolve(executed.push(sql)) }, 'GRANT a TO b;\nBEGIN\n  NULL;\nEND;\n/\n');
    expect(executed).toEqual(['GRANT a TO b', 'BEGIN\n  NULL;\nEND;']);
  });
});
