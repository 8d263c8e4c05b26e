/** What every view of the page shares: the HTTP routes, the journal feed's source, the schemas, the tab's token, and who to tell about a refused token. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api.js';
import type { FeedSource } from './journal-feed.js';
import type { SchemaLookup } from './schema-lookup.js';
import type { TokenStore } from './token.js';

export interface Services {
  api: Api;
  source: FeedSource;
  tokens: TokenStore;
  /** The schemas events name. */
  schemas: SchemaLookup;
  /** A request was refused for want of a (valid) token: the page asks for one. */
  unauthorized(message: string): void;
}

export const ServicesContext = createContext<Services | undefined>(undefined);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (services === undefined) throw new Error('useServices outside <ServicesContext.Provider>');
  return services;
}
