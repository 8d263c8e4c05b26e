/**
 * Where the page is, in the address's fragment so that the server serves one
 * file and every view can be bookmarked, reloaded and shared:
 * `#/` the journals, `#/journal/NAME?names=a,b&where={…}` one journal,
 * `#/journal/NAME/charts?…` its charts.
 */

export type Route =
  | { view: 'journals' }
  | { view: 'journal'; journal: string; params: URLSearchParams }
  | { view: 'charts'; journal: string; params: URLSearchParams };

export function parseRoute(hash: string): Route {
  const fragment = hash.replace(/^#/, '');
  const [path = '', query = ''] = fragment.split('?', 2);
  const parts = path.split('/').filter((part) => part !== '');
  const params = new URLSearchParams(query);
  if (parts[0] === 'journal' && parts[1] !== undefined) {
    const journal = safeDecode(parts[1]);
    if (parts[2] === 'charts') return { view: 'charts', journal, params };
    return { view: 'journal', journal, params };
  }
  return { view: 'journals' };
}

export function formatRoute(route: Route): string {
  if (route.view === 'journals') return '#/';
  const query = route.params.toString();
  const path = `#/journal/${encodeURIComponent(route.journal)}${route.view === 'charts' ? '/charts' : ''}`;
  return query === '' ? path : `${path}?${query}`;
}

/** Builds a journal or charts address from plain values, leaving out empty ones. */
export function journalHref(view: 'journal' | 'charts', journal: string, params: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, value);
  return formatRoute({ view, journal, params: search });
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
