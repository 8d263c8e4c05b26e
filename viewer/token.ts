/**
 * The tab's token: taken from `?token=` (then removed from the address bar,
 * so it is not bookmarked, shared or shown) or typed into the page, and kept
 * in `sessionStorage`: for this tab only, gone when it closes.
 */

const KEY = 'wsjournal.token';

export class TokenStore {
  readonly #storage: Storage | undefined;
  #token: string | undefined;

  constructor(storage: Storage | undefined) {
    this.#storage = storage;
    try {
      this.#token = storage?.getItem(KEY) ?? undefined;
    } catch {
      // Storage refused (privacy settings): the token lives in memory only.
      this.#token = undefined;
    }
  }

  /** Takes `?token=` from `location`, keeps it, and returns the address without it (or undefined when there was none). */
  adoptFromUrl(href: string): string | undefined {
    const url = new URL(href);
    const token = url.searchParams.get('token');
    if (token === null) return undefined;
    if (token !== '') this.set(token);
    url.searchParams.delete('token');
    return url.toString();
  }

  get(): string | undefined {
    return this.#token;
  }

  set(token: string): void {
    this.#token = token;
    try {
      this.#storage?.setItem(KEY, token);
    } catch {
      // Kept in memory only.
    }
  }

  clear(): void {
    this.#token = undefined;
    try {
      this.#storage?.removeItem(KEY);
    } catch {
      // Nothing kept.
    }
  }
}
