/**
 * oTree's own count of what participants did, read over REST (`/api/export_page_times`), so the
 * bench counts the ceiling's pages and the bots' pages the same way. Only Node built-ins.
 */

/** oTree's page-time rows (one per page a participant completed), all sessions. */
export async function pageTimes(baseUrl) {
  const res = await fetch(`${baseUrl}/api/export_page_times`);
  const [header, ...lines] = (await res.text()).trim().split(/\r?\n/);
  const cols = header.split(",");
  return lines.map((line) => Object.fromEntries(line.split(",").map((v, i) => [cols[i], v])));
}

/** Form pages submitted and participants who submitted the last page, for some sessions. */
export function countPages(rows, sessionCodes, lastPageIndex) {
  const mine = rows.filter(
    (r) =>
      sessionCodes.has(r.session_code) && r.is_wait_page === "0" && r.page_name !== "InitializeParticipant",
  );
  const finished = new Set(
    mine.filter((r) => Number(r.page_index) === lastPageIndex).map((r) => r.participant_code),
  );
  return { pages: mine.length, completed: finished.size };
}
