/**
 * The builtin filters by name. Filled by filters.ts when it loads; a leaf module so that the
 * `filter` test (`"upper" is filter`, in tests.ts) can see the table without importing
 * filters.ts, which imports tests.ts for select/reject. Any program that has filters has loaded
 * filters.ts, so the table is full before a template runs.
 */
import type { Kwargs } from "./python-values.js";

export type FilterFn = (value: unknown, args: unknown[], kwargs: Kwargs) => unknown;

export const FILTERS: Record<string, FilterFn> = {};
