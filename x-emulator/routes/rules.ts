import type { Express } from 'express';
import { z } from 'zod';
import type { JsonObject } from '../../events/json.js';
import { ruleJson, type EmulatorContext } from '../context.js';
import { send, sendJson } from '../http.js';
import * as problems from '../problems.js';
import { parseRule } from '../rules.js';
import type { StoredRule } from '../state.js';
import { maxRuleLength, maxRules } from '../limits.js';

const addRulesBody = z.object({
  add: z.array(z.object({ value: z.string(), tag: z.string().max(128).optional() })).min(1).optional(),
  delete: z
    .object({ ids: z.array(z.string()).min(1).optional(), values: z.array(z.string()).min(1).optional() })
    .optional(),
});

/** The filtered stream's rules: GET and POST /2/tweets/search/stream/rules (add, delete, dry_run). */
export function mountRuleRoutes(app: Express, ctx: EmulatorContext): void {
  const { route, state, logger, now, newId } = ctx;

  app.get(
    '/2/tweets/search/stream/rules',
    route({ auth: 'appOnly', rateLimit: 'getRules', fault: 'rules' }, ({ res, query }) => {
      const ids = query.get('ids')?.split(',').filter((id) => id !== '');
      const rules = state.rules().filter((rule) => ids === undefined || ids.includes(rule.id));
      const meta: JsonObject = { sent: now().toISOString(), result_count: rules.length };
      sendJson(res, 200, rules.length > 0 ? { data: rules.map(ruleJson), meta } : { meta });
    }),
  );

  app.post(
    '/2/tweets/search/stream/rules',
    route({ auth: 'appOnly', rateLimit: 'addRules', fault: 'rules' }, ({ req, res, query }) => {
      const parsed = addRulesBody.safeParse(req.body);
      const dryRun = query.get('dry_run') === 'true';
      const sent = now().toISOString();
      if (!parsed.success || (parsed.data.add === undefined) === (parsed.data.delete === undefined)) {
        send(res, problems.invalidRequest('The request body must hold exactly one of `add` (a non-empty array of {value, tag}) or `delete` ({ids} or {values}).'));
        return;
      }
      const { add, delete: remove } = parsed.data;
      if (remove !== undefined) {
        const targets = [
          ...(remove.ids ?? []).map((id) => state.rules().find((r) => r.id === id) ?? id),
          ...(remove.values ?? []).map((value) => state.ruleByValue(value) ?? value),
        ];
        const errors: JsonObject[] = [];
        let deleted = 0;
        for (const target of targets) {
          if (typeof target === 'string') {
            errors.push({ value: target, title: 'Not Found Error', detail: 'Rule does not exist', type: 'https://api.twitter.com/2/problems/resource-not-found' });
            continue;
          }
          if (!dryRun) state.deleteRule(target.id);
          deleted += 1;
        }
        const body: JsonObject = { meta: { sent, summary: { deleted, not_deleted: errors.length } } };
        if (errors.length > 0) body.errors = errors;
        logger.info({ deleted, dryRun }, 'stream rules deleted');
        sendJson(res, 200, body);
        return;
      }
      const candidates = add ?? [];
      const errors: JsonObject[] = [];
      const accepted: StoredRule[] = [];
      let invalid = 0;
      for (const candidate of candidates) {
        const rule = parseRule(candidate.value, maxRuleLength);
        if (!rule.ok) {
          invalid += 1;
          errors.push({ value: candidate.value, details: [...rule.details], title: 'Invalid Rule', type: 'https://api.twitter.com/2/problems/invalid-rules' });
          continue;
        }
        const existing = state.ruleByValue(candidate.value) ?? accepted.find((r) => r.value === candidate.value);
        if (existing !== undefined) {
          errors.push({ value: candidate.value, id: existing.id, title: 'DuplicateRule', type: 'https://api.twitter.com/2/problems/duplicate-rules' });
          continue;
        }
        accepted.push({ id: newId(), value: candidate.value, tag: candidate.tag, expr: rule.expr });
      }
      const valid = candidates.length - invalid;
      if (invalid > 0) {
        // X refuses the whole request when any rule is invalid.
        sendJson(res, 400, { meta: { sent, summary: { created: 0, not_created: candidates.length, valid, invalid } }, errors });
        return;
      }
      if (state.ruleCount() + accepted.length > maxRules) {
        sendJson(res, 400, {
          meta: { sent, summary: { created: 0, not_created: candidates.length, valid, invalid: 0 } },
          errors: [{ title: 'RulesCapExceeded', type: 'https://api.twitter.com/2/problems/rule-cap', detail: `Rule creation would exceed your rule cap of ${maxRules}.` }],
        });
        return;
      }
      if (!dryRun) for (const rule of accepted) state.addRule(rule);
      const body: JsonObject = {
        meta: { sent, summary: { created: accepted.length, not_created: candidates.length - accepted.length, valid, invalid: 0 } },
      };
      if (accepted.length > 0) body.data = accepted.map(ruleJson);
      if (errors.length > 0) body.errors = errors;
      logger.info({ created: accepted.length, dryRun }, 'stream rules added');
      sendJson(res, accepted.length > 0 && !dryRun ? 201 : 200, body);
    }),
  );
}
