/** The `/reputation` view: JSON-able rows of every group and of the busiest requesters. Pure. */
import { formatCidr } from '../util/cidr.js';
import type { Group, ReputationBook, Requester } from './reputation.js';
import { periodScore, SEED_NEUTRAL, type Period } from './score.js';

export interface PeriodRow {
  score: number;
  /** Where the period started (the aged reputation, or the initial one). */
  initial: number;
  ok: number;
  nok: number;
  /** Neutral events recorded, without the 5 every period starts with. */
  neutral: number;
  trusted: number;
  untrusted: number;
}

export interface GroupRow {
  name: string;
  configured: boolean;
  sla: boolean;
  /** Configured nodes, then learned addresses; at most MEMBERS_SHOWN of them. */
  members: string[];
  membersTotal: number;
  reputation: number;
  current: PeriodRow;
  previous: PeriodRow;
}

export interface RequesterRow {
  requester: string;
  reputation: number;
  current: PeriodRow;
  previous: PeriodRow;
  lastSeenMsAgo: number;
}

export interface ReputationView {
  period: number;
  periodMs: number;
  best: number;
  groups: GroupRow[];
  /** The busiest requesters of the current period (most events), `limit` at most. */
  requesters: RequesterRow[];
  tracked: ReturnType<ReputationBook['sizes']>;
}

export const MEMBERS_SHOWN = 32;

const round = (x: number) => Math.round(x * 1e4) / 1e4;

function periodRow(p: Period): PeriodRow {
  return { score: round(periodScore(p)), initial: round(p.initial), ok: p.ok, nok: p.nok, neutral: p.neutral - SEED_NEUTRAL, trusted: p.trusted, untrusted: p.untrusted };
}

function activity(r: Requester): number {
  const c = r.standing.current;
  return c.ok + c.nok + c.neutral - SEED_NEUTRAL + c.trusted + c.untrusted;
}

function groupRow(book: ReputationBook, g: Group): GroupRow {
  const members = book.members(g);
  return {
    name: g.name,
    configured: g.configured,
    sla: g.sla,
    members: members.slice(0, MEMBERS_SHOWN),
    membersTotal: members.length,
    reputation: round(g.standing.score),
    current: periodRow(g.standing.current),
    previous: periodRow(g.standing.previous),
  };
}

export function reputationView(book: ReputationBook, periodMs: number, now: number, limit = 20): ReputationView {
  const best = book.best(now);
  const top = [...book.allRequesters()].sort((a, b) => activity(b) - activity(a) || b.lastSeen - a.lastSeen).slice(0, Math.max(0, limit));
  return {
    period: book.period,
    periodMs,
    best: round(best),
    groups: book.groups().map((g) => groupRow(book, g)),
    requesters: top.map((r) => ({
      requester: formatCidr({ network: r.network, prefixLength: r.prefixLength }),
      reputation: round(r.standing.score),
      current: periodRow(r.standing.current),
      previous: periodRow(r.standing.previous),
      lastSeenMsAgo: Math.max(0, now - r.lastSeen),
    })),
    tracked: book.sizes(),
  };
}
