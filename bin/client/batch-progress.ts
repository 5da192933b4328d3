// How `pidbox batch` shows a batch going: on a terminal, one line redrawn in place (a bar, done/total,
// counts by status, rate, ETA); elsewhere, plain lines a log can keep. Pure: tests give the figures.
import { formatDuration } from './units.js';

/** The statuses in the order they are shown, and how each is named. */
const SHOWN = ['succeeded', 'failed', 'timed_out', 'cancelled', 'running', 'queued'] as const;
const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

export interface BatchFigures {
  /** Invocations in the batch. */
  total: number;
  /** Invocations by status, as GET /batches/{id} counts them. */
  counts: Record<string, number>;
  /** Since the batch was submitted. */
  elapsedMs: number;
}

export interface Progress {
  done: number;
  total: number;
  /** Finished invocations a second, since the start. */
  perSecond: number;
  /** What is left at that rate; null before anything finished. */
  etaMs: number | null;
}

export function progressOf({ total, counts, elapsedMs }: BatchFigures): Progress {
  const done = Object.entries(counts).reduce((sum, [status, n]) => sum + (FINAL.has(status) ? n : 0), 0);
  const perSecond = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  return { done, total, perSecond, etaMs: perSecond > 0 ? ((total - done) / perSecond) * 1000 : null };
}

/** `succeeded 400, failed 12, running 2, queued 586` (statuses with none left out). */
export function describeCounts(counts: Record<string, number>): string {
  return SHOWN.filter((status) => (counts[status] ?? 0) > 0).map((status) => `${status} ${counts[status]}`).join(', ');
}

/** The terminal's line: `[████░░░░] 412/1000 41%  succeeded 400, failed 12 …  35.2/s  ETA 17s`, at most `columns - 1` wide. */
export function progressBar(figures: BatchFigures, columns: number): string {
  const p = progressOf(figures);
  const percent = p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100;
  const rest = ` ${p.done}/${p.total} ${percent}%  ${describeCounts(figures.counts)}  ${rate(p)}`;
  const barWidth = Math.max(10, Math.min(40, columns - 1 - rest.length - 2));
  const filled = p.total > 0 ? Math.round((p.done / p.total) * barWidth) : barWidth;
  const line = `[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]${rest}`;
  return line.length >= columns ? line.slice(0, Math.max(0, columns - 1)) : line;
}

/** A plain line: `412/1000 done (41%): succeeded 400, failed 12, running 2, queued 586; 35.2/s, ETA 17s`. */
export function progressLine(figures: BatchFigures): string {
  const p = progressOf(figures);
  const percent = p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100;
  return `${p.done}/${p.total} done (${percent}%): ${describeCounts(figures.counts) || 'nothing counted yet'}; ${rate(p).replace('  ', ', ')}`;
}

function rate(p: Progress): string {
  const eta = p.done === p.total ? 'done' : `ETA ${p.etaMs === null ? '-' : formatDuration(p.etaMs)}`;
  return `${p.perSecond.toFixed(p.perSecond < 10 ? 1 : 0)}/s  ${eta}`;
}
