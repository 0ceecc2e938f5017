import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import { z } from 'zod';
import type { Logger } from '../../common/logger.js';
import { ruleJson, type EmulatorContext } from '../context.js';
import { usernamePattern } from '../state.js';
import { faultEndpoints, faultKinds, type FaultQueue } from '../faults.js';
import { send, sendJson, textRejection } from '../http.js';
import { renderPage } from '../page.js';
import * as problems from '../problems.js';
import { defaultHandPostText } from '../limits.js';
import type { XEmulatorFaults } from '../server.js';
import type { StreamHub } from '../streams.js';

const handPostBody = z.object({ username: z.string(), text: z.string() });
const faultBody = z.union([
  z.object({
    endpoint: z.enum(faultEndpoints),
    kind: z.enum(faultKinds),
    times: z.number().int().min(1).max(10_000).optional(),
  }),
  z.object({ action: z.literal('dropStreams') }),
  z.object({ action: z.literal('stallStreams'), ms: z.number().int().min(0).max(3_600_000) }),
  z.object({ action: z.literal('operationalDisconnect') }),
  z.object({ action: z.literal('splitChunks'), on: z.boolean() }),
  z.object({ action: z.literal('reset') }),
]);

/** The faults a test (or the page) injects: the next requests to an endpoint fail, or the streams misbehave. */
export function createFaultControls(faultQueue: FaultQueue, hub: StreamHub, logger: Logger): XEmulatorFaults {
  return {
    fail(endpoint, kind, times = 1) {
      logger.info({ endpoint, kind, times }, 'fault armed');
      faultQueue.add(endpoint, kind, times);
    },
    dropStreams() {
      logger.info({ streams: hub.dropAll() }, 'streams dropped');
    },
    stallStreams(ms) {
      logger.info({ ms }, 'streams stalled');
      hub.stall(ms);
    },
    operationalDisconnect() {
      logger.info({ streams: hub.operationalDisconnect(JSON.stringify(problems.operationalDisconnectMessage)) }, 'operational disconnect');
    },
    splitChunks(on) {
      logger.info({ on }, 'split chunks');
      hub.setSplitChunks(on);
    },
    reset() {
      logger.info('faults reset');
      faultQueue.clear();
      hub.resetFaults();
    },
  };
}

/** The emulator's own API (no auth: it listens on loopback by default): probes, the page, hand posts and faults. */
export function mountAdminRoutes(app: Express, ctx: EmulatorContext): void {
  const { state, hub, appKey, faultQueue, faults, createPost, latestPosts, pageUsers } = ctx;

  // Probes for containers: alive, and ready once the certificate is written (it is, before listen).
  app.get(['/healthz', '/readyz'], (_req, res) => {
    sendJson(res, 200, { status: 'ok' });
  });

  app.get('/', (_req, res) => {
    const nonce = randomBytes(16).toString('base64');
    res
      .status(200)
      .set('content-security-policy', `default-src 'self'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'self'`)
      .set('x-content-type-options', 'nosniff')
      .type('text/html; charset=utf-8')
      .send(
        renderPage({
          posts: latestPosts().map((p) => ({ id: p.id, username: p.username, text: p.text, createdAt: p.created_at })),
          users: pageUsers,
          defaultText: defaultHandPostText,
          nonce,
        }),
      );
  });

  app.get('/_emulator/posts', (_req, res) => {
    sendJson(res, 200, {
      data: latestPosts(),
      meta: { open_streams: hub.count(appKey), rules: state.rules().map(ruleJson), faults: faultQueue.pending() },
    });
  });

  app.post('/_emulator/posts', (req, res) => {
    const body = handPostBody.safeParse(req.body);
    if (!body.success) {
      send(res, problems.invalidRequest('Send JSON {"username": "...", "text": "..."}.'));
      return;
    }
    if (!usernamePattern.test(body.data.username)) {
      send(res, problems.invalidRequest('A user name is 1 to 15 letters, digits or underscores.', { name: 'username' }));
      return;
    }
    const result = createPost(state.ensureUser(body.data.username), body.data.text);
    if (!result.ok) {
      send(res, textRejection(result.reason));
      return;
    }
    sendJson(res, 201, { data: { id: result.post.id, text: result.post.text } });
  });

  app.post('/_emulator/faults', (req, res) => {
    const parsed = faultBody.safeParse(req.body);
    if (!parsed.success) {
      send(
        res,
        problems.invalidRequest(
          `Send {endpoint: ${faultEndpoints.join('|')}, kind: ${faultKinds.join('|')}, times?} or {action: dropStreams|stallStreams (ms)|operationalDisconnect|splitChunks (on)|reset}.`,
        ),
      );
      return;
    }
    const fault = parsed.data;
    if ('endpoint' in fault) faults.fail(fault.endpoint, fault.kind, fault.times);
    else if (fault.action === 'dropStreams') faults.dropStreams();
    else if (fault.action === 'stallStreams') faults.stallStreams(fault.ms);
    else if (fault.action === 'operationalDisconnect') faults.operationalDisconnect();
    else if (fault.action === 'splitChunks') faults.splitChunks(fault.on);
    else faults.reset();
    sendJson(res, 200, { data: { applied: true } });
  });
}
