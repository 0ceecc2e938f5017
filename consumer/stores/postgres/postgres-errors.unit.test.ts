import { newPglite } from '../../../common/pglite.fixture.js';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyPostgresError, sqlStateOf } from './postgres-errors.js';

/** What the server sends: pg's DatabaseError and PGlite's error both carry these fields. */
const serverError = (code: string) => Object.assign(new Error(`server said ${code}`), { severity: 'ERROR', code });

describe('classifyPostgresError', () => {
  it.each([
    ['22P05', 'unsupported Unicode escape (a NUL in jsonb)'],
    ['22P02', 'invalid text representation (a lone surrogate in jsonb)'],
    ['22021', 'a character not in the encoding'],
    ['22003', 'a numeric value out of range'],
    ['23505', 'a unique violation'],
    ['23514', 'a check violation'],
    ['54000', 'a program limit exceeded (a value too large)'],
    ['P0001', 'an exception raised by a trigger'],
  ])('calls SQLSTATE %s, %s, the event\'s fault', (code) => {
    expect(classifyPostgresError(serverError(code))).toBe('refused');
  });

  it.each([
    ['08006', 'connection failure'],
    ['08P01', 'protocol violation'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock detected'],
    ['53100', 'disk full'],
    ['53300', 'too many connections'],
    ['57014', 'statement timeout'],
    ['57P01', 'admin shutdown'],
    ['57P03', 'cannot connect now'],
    ['58030', 'I/O error'],
    ['55P03', 'lock not available'],
    ['25006', 'read-only transaction after a failover'],
    ['28P01', 'wrong password'],
    ['42501', 'insufficient privilege'],
    ['42P01', 'a table dropped under us'],
    ['3F000', 'a schema dropped under us'],
    ['XX000', 'internal error'],
  ])('calls SQLSTATE %s, %s, unavailable', (code) => {
    expect(classifyPostgresError(serverError(code))).toBe('unavailable');
  });

  it('calls an error without a SQLSTATE unavailable: the server never judged the data', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const pipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    expect(classifyPostgresError(refused)).toBe('unavailable');
    expect(classifyPostgresError(pipe)).toBe('unavailable');
    expect(classifyPostgresError(new Error('Connection terminated unexpectedly'))).toBe('unavailable');
    expect(classifyPostgresError('not even an error')).toBe('unavailable');
  });

  it('reads a SQLSTATE only from an error the server sent', () => {
    expect(sqlStateOf(serverError('22P05'))).toBe('22P05');
    expect(sqlStateOf(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBeUndefined();
  });

  describe('on what PGlite really throws', () => {
    let db: PGlite;
    beforeAll(async () => {
      db = await newPglite();
    });
    afterAll(async () => {
      if (!db.closed) await db.close();
    });

    const thrown = async (run: () => Promise<unknown>): Promise<unknown> => {
      try {
        await run();
      } catch (err) {
        return err;
      }
      throw new Error('expected the statement to fail');
    };

    it('refuses a NUL and a lone surrogate in jsonb as the event\'s fault', async () => {
      expect(classifyPostgresError(await thrown(() => db.query('SELECT $1::jsonb', ['{"a":"\\u0000"}'])))).toBe('refused');
      expect(classifyPostgresError(await thrown(() => db.query('SELECT $1::jsonb', ['{"a":"\\ud800"}'])))).toBe('refused');
    });

    it('calls a missing table unavailable, and a closed database too', async () => {
      expect(classifyPostgresError(await thrown(() => db.query('SELECT * FROM no_such_table')))).toBe('unavailable');
      await db.close();
      expect(classifyPostgresError(await thrown(() => db.query('SELECT 1')))).toBe('unavailable');
    });
  });
});
