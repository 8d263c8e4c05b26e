/** The page's frame: the header, the view the address names, and the token form when the server asks for one. */
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { ChartsView } from './charts-view.js';
import { JournalList } from './journal-list.js';
import { JournalView } from './journal-view.js';
import { journalHref, parseRoute, type Route } from './route.js';
import { ServicesContext, type Services } from './services.js';
import { TokenForm } from './token-form.js';

export interface AppProps {
  services: Omit<Services, 'unauthorized'>;
}

/** The page's state of authentication: fine, or a refusal to show with the server's message. */
type Auth = { state: 'ok' } | { state: 'missing' | 'refused'; message: string };

export function App({ services }: AppProps) {
  const route = useRoute();
  const [auth, setAuth] = useState<Auth>({ state: 'ok' });
  // Bumped when a token is entered, so every view fetches again with it.
  const [attempt, setAttempt] = useState(0);
  const unauthorized = useCallback(
    (message: string) => setAuth({ state: services.tokens.get() === undefined ? 'missing' : 'refused', message }),
    [services.tokens],
  );
  const value = useMemo<Services>(() => ({ ...services, unauthorized }), [services, unauthorized]);

  useEffect(() => {
    document.title = route.view === 'journals' ? 'Journals · wsjournal' : `${route.journal} · wsjournal`;
  }, [route]);

  const useToken = (token: string) => {
    services.tokens.set(token);
    setAuth({ state: 'ok' });
    setAttempt((n) => n + 1);
  };
  const forgetToken = () => {
    services.tokens.clear();
    setAttempt((n) => n + 1);
  };

  return (
    <ServicesContext.Provider value={value}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          wsjournal
        </a>
        <nav aria-label="Where you are">
          <ol class="crumbs">
            <li>
              <a href="#/" aria-current={route.view === 'journals' ? 'page' : undefined}>
                Journals
              </a>
            </li>
            {route.view !== 'journals' && (
              <>
                <li>
                  <a href={journalHref('journal', route.journal)} aria-current={route.view === 'journal' ? 'page' : undefined}>
                    {route.journal}
                  </a>
                </li>
                <li>
                  <a href={journalHref('charts', route.journal)} aria-current={route.view === 'charts' ? 'page' : undefined}>
                    Charts
                  </a>
                </li>
              </>
            )}
          </ol>
        </nav>
        {services.tokens.get() !== undefined && (
          <button type="button" class="quiet" onClick={forgetToken}>
            Forget token
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {auth.state !== 'ok' ? (
          <TokenForm refused={auth.state === 'refused'} message={auth.message} onToken={useToken} />
        ) : route.view === 'journals' ? (
          <JournalList key={attempt} />
        ) : route.view === 'journal' ? (
          <JournalView key={`${attempt}:${route.journal}`} journal={route.journal} params={route.params} />
        ) : (
          <ChartsView key={`${attempt}:${route.journal}`} journal={route.journal} params={route.params} />
        )}
      </main>
    </ServicesContext.Provider>
  );
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHashChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHashChange);
    return () => removeEventListener('hashchange', onHashChange);
  }, []);
  return route;
}
