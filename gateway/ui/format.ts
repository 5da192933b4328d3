// How the dashboard writes numbers and times: short, with their units, a dash for what is unknown.

export const NONE = '–';

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return NONE;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return NONE;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The first block of a UUID: enough to tell invocations apart on one screen. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** `2025-01-02T03:04:05.678Z` → `2025-01-02 03:04:05Z` (the page's script shows it in local time). */
export function formatTime(iso: string | null): string {
  if (!iso) return NONE;
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
