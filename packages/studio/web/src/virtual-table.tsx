/**
 * A table of any length: only the rows in view (and a few around them) are in the page, and the
 * server's pages are fetched by cursor as the view moves — the next block after a loaded one, the
 * block before one, the last block for "end", and a position only for a jump (the scroll bar
 * dragged). The scroll area is as tall as all rows, so the scroll bar says where you are.
 */
import type { ComponentChild } from "preact";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api } from "./api";
import "./virtual-table.css";

/** Rows per fetched block. */
const BLOCK = 100;
/** Rows drawn beyond the view on each side. */
const OVERSCAN = 12;
/** Blocks kept in memory; the farthest from the view go first. */
const KEEP = 40;
const VIEW_HEIGHT = 440;

export interface Column<T> {
  head: string;
  /** CSS width (the table's layout is fixed, so every row lines up whatever it holds). */
  width?: string;
  cell: (row: T, index: number) => ComponentChild;
}

interface CursorPage<T> {
  items: T[];
  next: string | null;
  prev: string | null;
  /** Present when asked for and ready. */
  total?: number;
}

interface Block<T> {
  items: T[];
  next: string | null;
  prev: string | null;
}

export function VirtualTable<T>({
  url,
  countUrl,
  columns,
  rowKey,
  testid,
  onLoaded,
  onFirstItems,
}: {
  /** The listing's address with its filters, without paging parameters. */
  url: string;
  /** Where its row count comes from when the first page could not wait for it. */
  countUrl: string;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  testid: string;
  /** Called once, in the frame the first rows are drawn. */
  onLoaded?: () => void;
  /** The first block's rows, as they arrive (before they are drawn). */
  onFirstItems?: (items: T[]) => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const blocks = useRef(new Map<number, Block<T>>());
  const loading = useRef(new Set<number>());
  const [total, setTotal] = useState<number | null>(null);
  const [counting, setCounting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [, setVersion] = useState(0);
  const [top, setTop] = useState(0);
  const [rowHeight, setRowHeight] = useState(26);
  const [headHeight, setHeadHeight] = useState(28);
  const sep = url.includes("?") ? "&" : "?";

  /**
   * Fetches block `b` unless it is there or on its way. A neighbour's cursor is an index seek; a
   * position costs a scan, so with `jumps` false a block no neighbour reaches is left for later.
   */
  const fetchBlock = useCallback(
    (b: number, count: number, jumps: boolean) => {
      if (blocks.current.has(b) || loading.current.has(b)) return;
      const before = blocks.current.get(b - 1);
      const after = blocks.current.get(b + 1);
      const lastBlock = Math.floor((count - 1) / BLOCK);
      const q =
        before?.next && before.items.length === BLOCK
          ? `after=${encodeURIComponent(before.next)}&limit=${BLOCK}`
          : after?.prev
            ? `before=${encodeURIComponent(after.prev)}&limit=${BLOCK}`
            : b === lastBlock && b > 0
              ? `last=1&limit=${count - b * BLOCK}`
              : b === 0 || jumps
                ? `at=${b * BLOCK}&limit=${BLOCK}`
                : undefined;
      if (q === undefined) return;
      loading.current.add(b);
      // The first block asks for the row count (if it is quick); the others never wait for it.
      const first = b === 0 && total === null;
      api<CursorPage<T>>(`${url}${sep}${q}&total=${first ? "soon" : "0"}`)
        .then((page) => {
          blocks.current.set(b, { items: page.items, next: page.next, prev: page.prev });
          if (first) onFirstItems?.(page.items);
          if (page.total !== undefined) setTotal(page.total);
          else if (first && page.next === null) setTotal(page.items.length);
          else if (first) {
            // Rows now, the count when the server has it (a first count of a large run's filter).
            setTotal(page.items.length);
            setCounting(true);
            api<{ total: number }>(countUrl)
              .then((c) => {
                setTotal(c.total);
                setCounting(false);
              })
              .catch((e: Error) => setError(e.message));
          }
          setVersion((v) => v + 1);
        })
        .catch((e: Error) => setError(e.message))
        .finally(() => loading.current.delete(b));
    },
    [url, total === null],
  );

  // The first block brings the row count.
  useEffect(() => {
    fetchBlock(0, BLOCK, true);
  }, [fetchBlock]);

  const count = total ?? 0;
  const view = scroller.current?.clientHeight ?? VIEW_HEIGHT;
  const first = Math.min(Math.max(0, count - 1), Math.floor(top / rowHeight));
  const start = Math.max(0, first - OVERSCAN);
  const end = Math.min(count, first + Math.ceil(view / rowHeight) + OVERSCAN);
  const lastShown = Math.min(count, Math.floor((top + view - headHeight) / rowHeight));

  // Fetch what the view needs and the blocks on either side of it, those a neighbour's cursor
  // reaches at once; blocks only a position reaches once the scroll settles for a moment (a
  // dragged bar passes thousands of rows it does not need). Forget blocks far from the view.
  const lastBlock = Math.floor(Math.max(0, count - 1) / BLOCK);
  const wanted = (): number[] => {
    const out: number[] = [];
    for (
      let b = Math.max(0, Math.floor(start / BLOCK) - 1);
      b <= Math.min(lastBlock, Math.floor(Math.max(0, end - 1) / BLOCK) + 1);
      b++
    )
      out.push(b);
    return out;
  };
  useEffect(() => {
    if (total === null) return;
    for (const b of wanted()) fetchBlock(b, count, false);
    const timer = setTimeout(() => {
      // One jump, to the block at the top of the view: its neighbours follow by cursor.
      const b = Math.floor(first / BLOCK);
      if (!blocks.current.has(b)) fetchBlock(b, count, true);
      if (blocks.current.size > KEEP) {
        const centre = first / BLOCK;
        const far = [...blocks.current.keys()].sort((a, b) => Math.abs(b - centre) - Math.abs(a - centre));
        for (const b of far.slice(0, blocks.current.size - KEEP)) blocks.current.delete(b);
      }
    }, 40);
    return () => clearTimeout(timer);
  });

  // Measure the real row and header heights once rows are drawn (the layout math depends on them).
  const firstDrawn = useRef(false);
  useLayoutEffect(() => {
    const table = scroller.current?.querySelector("table");
    const row = table?.querySelector("tbody tr") as HTMLElement | null;
    const head = table?.querySelector("thead") as HTMLElement | null;
    if (row && Math.abs(row.getBoundingClientRect().height - rowHeight) > 0.5)
      setRowHeight(row.getBoundingClientRect().height);
    if (head && Math.abs(head.getBoundingClientRect().height - headHeight) > 0.5)
      setHeadHeight(head.getBoundingClientRect().height);
    if (row && blocks.current.size > 0 && !firstDrawn.current) {
      firstDrawn.current = true;
      requestAnimationFrame(() => onLoaded?.());
    }
  });

  if (error) return <p class="error">{error}</p>;
  if (total === null) return <p>Loading…</p>;
  const rows: ComponentChild[] = [];
  for (let i = start; i < end; i++) {
    const item = blocks.current.get(Math.floor(i / BLOCK))?.items[i % BLOCK];
    rows.push(
      item === undefined ? (
        <tr key={`loading-${i}`} class="vt-loading" data-row={i}>
          <td colSpan={columns.length}>…</td>
        </tr>
      ) : (
        <tr key={rowKey(item)} data-row={i}>
          {columns.map((c) => (
            <td key={c.head}>{c.cell(item, i)}</td>
          ))}
        </tr>
      ),
    );
  }
  const go = (to: "start" | "end") => {
    const el = scroller.current;
    if (el) el.scrollTop = to === "start" ? 0 : el.scrollHeight;
  };
  return (
    <div class="vt">
      <p class="pager">
        <button
          type="button"
          onClick={() => go("start")}
          disabled={first === 0}
          data-testid={`${testid}-start`}
        >
          ⇤ Start
        </button>{" "}
        <span data-testid={`${testid}-range`}>
          {count === 0 ? 0 : first + 1}–{lastShown} of {counting ? `${count}+ (counting…)` : count}
        </span>{" "}
        <button
          type="button"
          onClick={() => go("end")}
          disabled={lastShown >= count}
          data-testid={`${testid}-end`}
        >
          End ⇥
        </button>
      </p>
      <div
        class="vt-scroll"
        ref={scroller}
        style={{ maxHeight: `${VIEW_HEIGHT}px` }}
        onScroll={(e) => setTop((e.currentTarget as HTMLDivElement).scrollTop)}
        data-testid={`${testid}-scroll`}
      >
        <div style={{ height: `${headHeight + count * rowHeight}px`, position: "relative" }}>
          <table
            class="grid vt-table"
            data-testid={testid}
            style={{ position: "absolute", top: `${start * rowHeight}px`, left: 0, right: 0 }}
          >
            <colgroup>
              {columns.map((c) => (
                <col key={c.head} style={c.width ? { width: c.width } : {}} />
              ))}
            </colgroup>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c.head}>{c.head}</th>
                ))}
              </tr>
            </thead>
            <tbody>{rows}</tbody>
          </table>
        </div>
      </div>
    </div>
  );
}
