import { BSON, MongoNetworkError, MongoNetworkTimeoutError, MongoServerError, MongoTopologyClosedError, MongoWriteConcernError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { classifyMongoError } from './mongodb-errors.js';

/** The driver's own error classes, built as the driver builds them from a server reply (no server runs here). */
const serverError = (code: number, codeName: string) => new MongoServerError({ ok: 0, code, codeName, errmsg: `server said ${codeName}` });

describe('classifyMongoError', () => {
  it('calls a document BSON cannot serialize the event\'s fault', () => {
    let thrown: unknown;
    try {
      BSON.serialize({ 'a\u0000b': 1 });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BSON.BSONError);
    expect(classifyMongoError(thrown)).toBe('refused');
  });

  it.each([
    [2, 'BadValue'],
    [10334, 'BSONObjectTooLarge'],
    [17280, 'KeyTooLong'],
    [52, 'DollarPrefixedFieldName'],
    [57, 'DottedFieldName'],
  ])('calls server code %i (%s) the event\'s fault', (code, name) => {
    expect(classifyMongoError(serverError(code, name))).toBe('refused');
  });

  it.each([
    [91, 'ShutdownInProgress'],
    [189, 'PrimarySteppedDown'],
    [10107, 'NotWritablePrimary'],
    [11602, 'InterruptedDueToReplStateChange'],
    [50, 'MaxTimeMSExpired'],
    [112, 'WriteConflict'],
    [13, 'Unauthorized'],
    [18, 'AuthenticationFailed'],
    [14031, 'OutOfDiskSpace'],
  ])('calls server code %i (%s) unavailable', (code, name) => {
    expect(classifyMongoError(serverError(code, name))).toBe('unavailable');
  });

  it('calls network, closed-client and write-concern failures unavailable', () => {
    expect(classifyMongoError(new MongoNetworkError('connection reset'))).toBe('unavailable');
    expect(classifyMongoError(new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 64, errmsg: 'waiting for replication timed out' } }))).toBe('unavailable');
    expect(classifyMongoError(new MongoNetworkTimeoutError('connection timed out'))).toBe('unavailable');
    expect(classifyMongoError(new MongoTopologyClosedError())).toBe('unavailable');
  });

  it('calls anything the driver labels retryable unavailable, whatever its code', () => {
    const labelled = serverError(2, 'BadValue');
    labelled.addErrorLabel('RetryableWriteError');
    expect(classifyMongoError(labelled)).toBe('unavailable');
  });

  it('calls an error that is not the driver\'s unavailable: no server judged the data', () => {
    expect(classifyMongoError(new Error('socket hang up'))).toBe('unavailable');
  });
});
