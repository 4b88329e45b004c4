/**
 * The price table that turns simulated bytes into money: origin egress and inter-region transfer
 * in $/GB, edge storage in $/GB-month (decimal GB). Defaults are public list prices of a large
 * cloud in 2024 (first-tier internet egress $0.09/GB, inter-region transfer $0.02/GB, standard
 * object storage $0.023/GB-month); every value can be overridden from a JSON object or
 * `key=value` pairs. Pure: no I/O.
 */
import { inputError } from '../errors.ts';

export interface PriceTable {
  /** $ per GB leaving the origin to the internet / edges */
  originEgressPerGB: number;
  /** $ per GB moved between regions (sibling / parent edge fetches) */
  interRegionPerGB: number;
  /** $ per GB-month of edge cache storage */
  edgeStoragePerGBMonth: number;
}

export const DEFAULT_PRICES: Readonly<PriceTable> = Object.freeze({
  originEgressPerGB: 0.09,
  interRegionPerGB: 0.02,
  edgeStoragePerGBMonth: 0.023,
});

const KEYS = Object.keys(DEFAULT_PRICES) as (keyof PriceTable)[];

/** Merge overrides (a parsed JSON object, or "k=v,k=v") into the defaults; unknown keys and negative values are errors. */
export function resolvePrices(override?: string | Record<string, unknown>): PriceTable {
  const p: PriceTable = { ...DEFAULT_PRICES };
  if (override === undefined || override === '') return p;
  let obj: Record<string, unknown>;
  if (typeof override === 'string') {
    const s = override.trim();
    if (s.startsWith('{')) {
      try {
        obj = JSON.parse(s) as Record<string, unknown>;
      } catch (e) {
        throw inputError('BAD_PRICES', `price table is not valid JSON: ${(e as Error).message}`);
      }
    } else {
      obj = {};
      for (const pair of s.split(',')) {
        const [k, v] = pair.split('=');
        if (!k || v === undefined) throw inputError('BAD_PRICES', `price override '${pair}' is not key=value`, {}, `keys: ${KEYS.join(', ')}`);
        obj[k.trim()] = Number(v);
      }
    }
  } else obj = override;
  for (const [k, v] of Object.entries(obj)) {
    if (!KEYS.includes(k as keyof PriceTable)) throw inputError('BAD_PRICES', `unknown price '${k}'`, { key: k }, `keys: ${KEYS.join(', ')}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw inputError('BAD_PRICES', `price '${k}' must be a non-negative number, got ${String(v)}`, { key: k });
    p[k as keyof PriceTable] = v;
  }
  return p;
}

export interface CostBreakdown {
  originEgress: number;
  interRegion: number;
  edgeStorage: number;
  total: number;
}

/** Money for a period: bytes moved, and bytes of edge storage held for `months`. */
export function cost(prices: PriceTable, b: { originBytes: number; interRegionBytes?: number; storageBytes?: number; months?: number }): CostBreakdown {
  const GB = 1e9;
  const originEgress = (b.originBytes / GB) * prices.originEgressPerGB;
  const interRegion = ((b.interRegionBytes ?? 0) / GB) * prices.interRegionPerGB;
  const edgeStorage = ((b.storageBytes ?? 0) / GB) * prices.edgeStoragePerGBMonth * (b.months ?? 0);
  return { originEgress, interRegion, edgeStorage, total: originEgress + interRegion + edgeStorage };
}
