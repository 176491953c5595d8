// Dedup by content hash with a deterministic winner: the highest source priority, then the lowest source
// id, then the smallest path. Deterministic so a re-run over the same staging rows picks the same copies.
export interface DedupCandidate {
  stagingId: string;
  sourceId: number;
  sourcePath: string;
  contentHash: string;
  priority: number;
}

export interface DedupResult<T extends DedupCandidate> {
  kept: T[];
  /** Copies whose content another (winning) staging row carries. */
  dropped: { row: T; keptStagingId: string }[];
}

export function compareCandidates(a: DedupCandidate, b: DedupCandidate): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.sourceId !== b.sourceId) return a.sourceId - b.sourceId;
  return a.sourcePath < b.sourcePath ? -1 : a.sourcePath > b.sourcePath ? 1 : 0;
}

export function dedupByHash<T extends DedupCandidate>(rows: T[]): DedupResult<T> {
  const winners = new Map<string, T>();
  const dropped: { row: T; keptStagingId: string }[] = [];
  for (const row of [...rows].sort(compareCandidates)) {
    const winner = winners.get(row.contentHash);
    if (winner) dropped.push({ row, keptStagingId: winner.stagingId });
    else winners.set(row.contentHash, row);
  }
  return { kept: [...winners.values()], dropped };
}
