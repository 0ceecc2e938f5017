import type { Response } from 'express';
import type { JsonObject } from '../events/json.js';
import * as problems from './problems.js';
import type { TextRejection } from './text.js';

/** How the emulator answers: X's JSON shapes, and its problem documents for errors. */

/** Requests under a `lostResponse` fault: carried out, then their connection drops instead of the answer. */
const lostResponses = new WeakSet<Response>();

/** Marks a request whose answer is to be lost: it is carried out, and its connection dropped. */
export function loseAnswer(res: Response): void {
  lostResponses.add(res);
}

/** Drops the connection instead of answering, for a request under a `lostResponse` fault. */
function answerLost(res: Response): boolean {
  if (!lostResponses.has(res)) return false;
  res.socket?.destroy();
  return true;
}

export function send(res: Response, error: problems.XErrorResponse): void {
  if (answerLost(res)) return;
  const problem = typeof error.body.title === 'string' && typeof error.body.type === 'string';
  res.status(error.status).type(problem ? 'application/problem+json' : 'application/json').send(JSON.stringify(error.body));
}

export function sendJson(res: Response, status: number, body: JsonObject): void {
  if (answerLost(res)) return;
  res.status(status).type('application/json').send(JSON.stringify(body));
}

export function isErrorResponse(value: object): value is problems.XErrorResponse {
  return 'status' in value && 'body' in value;
}

export function textRejection(reason: TextRejection | 'duplicate'): problems.XErrorResponse {
  switch (reason) {
    case 'duplicate':
      return problems.duplicateContent;
    case 'tooLong':
      return problems.textTooLong;
    case 'tooManyCashtags':
      return problems.tooManyCashtags;
    case 'empty':
      return problems.invalidRequest('Post text must not be empty.', { name: 'text' });
  }
}
