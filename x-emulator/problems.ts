import type { JsonObject } from '../events/json.js';

/**
 * Response bodies exactly as X sends them. Keeping them in one place
 * lets a test compare against a single source and lets the X transport's nock tests copy them.
 */
export interface XErrorResponse {
  readonly status: number;
  readonly body: JsonObject;
}

export const unauthorized: XErrorResponse = {
  status: 401,
  body: { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' },
};

export function unsupportedAuthentication(used: 'app' | 'user'): XErrorResponse {
  const detail =
    used === 'app'
      ? 'Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].'
      : 'Authenticating with OAuth 1.0a User Context is forbidden for this endpoint.  Supported authentication types are [OAuth 2.0 Application-Only].';
  return {
    status: 403,
    body: {
      title: 'Unsupported Authentication',
      detail,
      type: 'https://api.twitter.com/2/problems/unsupported-authentication',
      status: 403,
    },
  };
}

export const duplicateContent: XErrorResponse = {
  status: 403,
  body: {
    detail: 'You are not allowed to create a Tweet with duplicate content.',
    type: 'about:blank',
    title: 'Forbidden',
    status: 403,
  },
};

export const tooLongMessage =
  'Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.';

/** X answers 400 here (sometimes 403); the message is both in `detail` and in `errors[0].message`. */
export const textTooLong: XErrorResponse = invalidRequest(tooLongMessage, { name: 'text' }, tooLongMessage);

/** Our pick for "more than one cashtag": a 403 in the same shape as the duplicate error. */
export const tooManyCashtags: XErrorResponse = {
  status: 403,
  body: {
    detail: 'You are not allowed to create a Tweet with more than one cashtag.',
    type: 'about:blank',
    title: 'Forbidden',
    status: 403,
  },
};

export const notAllowedToDelete: XErrorResponse = {
  status: 403,
  body: { detail: 'You are not allowed to delete this Tweet.', type: 'about:blank', title: 'Forbidden', status: 403 },
};

export const rateLimitExceeded: XErrorResponse = {
  status: 429,
  body: { errors: [{ code: 88, message: 'Rate limit exceeded' }] },
};

export const tooManyConnections: XErrorResponse = {
  status: 429,
  body: {
    title: 'ConnectionException',
    detail: 'This stream is currently at the maximum allowed connection limit.',
    connection_issue: 'TooManyConnections',
    type: 'https://api.twitter.com/2/problems/streaming-connection',
  },
};

/** X documents only the status; the body follows its other streaming-connection problems. */
export const streamHasNoRules: XErrorResponse = {
  status: 409,
  body: {
    title: 'ConnectionException',
    detail: 'This stream has no rules. Add at least one rule with POST /2/tweets/search/stream/rules before connecting.',
    type: 'https://api.twitter.com/2/problems/streaming-connection',
    status: 409,
  },
};

export const serviceUnavailable: XErrorResponse = {
  status: 503,
  body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503 },
};

export const pageNotFound: XErrorResponse = {
  status: 404,
  body: { errors: [{ message: 'Sorry, that page does not exist', code: 34 }] },
};

/** The message X puts inside an open stream before it closes it. */
export const operationalDisconnectMessage: JsonObject = {
  errors: [
    {
      title: 'operational-disconnect',
      disconnect_type: 'OperationalDisconnect',
      detail: 'This stream has been disconnected for operational reasons.',
      type: 'https://api.twitter.com/2/problems/operational-disconnect',
    },
  ],
};

/** X's 400 for a bad query or body parameter. */
export function invalidRequest(
  message: string,
  parameter?: { readonly name: string; readonly value?: string },
  detail?: string,
): XErrorResponse {
  const error: JsonObject =
    parameter === undefined
      ? { message }
      : { parameters: { [parameter.name]: parameter.value === undefined ? [] : [parameter.value] }, message };
  return {
    status: 400,
    body: {
      errors: [error],
      title: 'Invalid Request',
      detail: detail ?? 'One or more parameters to your request was invalid.',
      type: 'https://api.twitter.com/2/problems/invalid-request',
    },
  };
}

export function tweetNotFound(id: string, parameter: 'id' | 'ids'): JsonObject {
  return {
    value: id,
    detail: `Could not find tweet with ${parameter}: [${id}].`,
    title: 'Not Found Error',
    resource_type: 'tweet',
    parameter,
    resource_id: id,
    type: 'https://api.twitter.com/2/problems/resource-not-found',
  };
}
