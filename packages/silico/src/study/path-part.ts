/**
 * One step of a path into a study file's data: a mapping key or a list index. A leaf module so
 * that the reader (source.ts) and its size checks (source-limits.ts) can both name it.
 */
export type PathPart = string | number;
