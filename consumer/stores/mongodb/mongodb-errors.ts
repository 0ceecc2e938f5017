import {
  BSON,
  MongoBulkWriteError,
  MongoError,
  MongoNetworkError,
  MongoClientClosedError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoWriteConcernError,
} from 'mongodb';
import type { StoreFailureKind } from '../../../common/errors.js';

/**
 * What a MongoDB driver failure says about itself.
 *
 * - `unavailable`: network and server-selection errors, a closed client, write-concern failures,
 *   anything labelled retryable by the driver, and server codes for elections, shutdowns, timeouts,
 *   conflicts and missing rights: no write could succeed until the deployment recovers.
 * - `refused`: the driver could not serialize the document (`BSONError`, e.g. a NUL in a key), or
 *   the server refused it with any other code (`BadValue`, a document too large, a bad field name).
 * - An error with neither a code nor one of these types did not come from a judgement of the data:
 *   `unavailable`.
 *
 * A bulk write is refused only when none of its write errors is transient (E11000 is the version
 * gate's answer and is read by the store itself before this is asked).
 */
export function classifyMongoError(err: unknown): StoreFailureKind {
  if (err instanceof BSON.BSONError) return 'refused';
  if (!(err instanceof MongoError)) return 'unavailable';
  if (retryLabels.some((label) => err.hasErrorLabel(label))) return 'unavailable';
  if (unavailableTypes.some((type) => err instanceof type)) return 'unavailable';
  if (err instanceof MongoBulkWriteError) {
    const writeErrors = err.result.getWriteErrors();
    if (err.result.getWriteConcernError() !== undefined) return 'unavailable';
    return writeErrors.length > 0 && writeErrors.every((e) => !unavailableCodes.has(e.code)) ? 'refused' : 'unavailable';
  }
  if (err instanceof MongoServerError) return typeof err.code === 'number' && !unavailableCodes.has(err.code) ? 'refused' : 'unavailable';
  return 'unavailable';
}

const retryLabels = ['RetryableWriteError', 'RetryableError', 'TransientTransactionError', 'ResetPool', 'PoolRequestedRetry', 'InterruptInUseConnections', 'SystemOverloadedError'];

const unavailableTypes = [
  MongoNetworkError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoNotConnectedError,
  MongoClientClosedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoWriteConcernError,
];

/** Server codes that describe the deployment, not the document (the driver's own retryable list, plus rights and conflicts). */
const unavailableCodes = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  13, // Unauthorized
  18, // AuthenticationFailed
  24, // LockTimeout
  26, // NamespaceNotFound
  43, // CursorNotFound
  50, // MaxTimeMSExpired
  63, // StaleShardVersion
  64, // WriteConcernFailed
  79, // UnknownReplWriteConcern
  89, // NetworkTimeout
  91, // ShutdownInProgress
  100, // UnsatisfiableWriteConcern
  112, // WriteConflict
  133, // FailedToSatisfyReadPreference
  134, // ReadConcernMajorityNotAvailableYet
  146, // ExceededMemoryLimit
  150, // StaleEpoch
  189, // PrimarySteppedDown
  202, // NetworkInterfaceExceededTimeLimit
  262, // ExceededTimeLimit
  391, // ReauthenticationRequired
  9001, // SocketException
  10058, // LegacyNotPrimary
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11601, // Interrupted
  11602, // InterruptedDueToReplStateChange
  13388, // StaleConfig
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
  14031, // OutOfDiskSpace
]);
