import { TextReply } from '../admin/text-reply.js';
import type { ConditionState } from '../ops/readiness.js';

/**
 * /readyz: 200 when every readiness condition holds, else 503 (load balancers and systemd-style probes read
 * the status); the body names each condition, `[+]` true or `[-]` false, with its reason, as Kubernetes'
 * verbose readyz does, so an operator sees at once which one holds the gateway back.
 */
export function readyzReply(r: { ready: boolean; conditions: Record<string, ConditionState> }): TextReply {
  const lines = [r.ready ? 'ready' : 'not ready'];
  for (const [name, c] of Object.entries(r.conditions)) lines.push(`[${c.ok ? '+' : '-'}]${name}: ${c.reason}`);
  return new TextReply(r.ready ? 200 : 503, 'text/plain; charset=utf-8', lines.join('\n') + '\n');
}
