// The search providers a collection plan may name. Each provider's file exports its definition (its name and how
// it is made from the settings) and this list registers it, so a new provider is its file plus one line here; the
// plan schema takes its names from the list.
import type { CollectSettings } from '../../config';
import { ProgrammingError } from '../../errors';
import type { ImageSearchProvider } from '../types';
import { bingProvider } from './bing';
import { offlineProvider } from './offline';
import { openverseProvider } from './openverse';

/** Every provider, in the order the plan's error message lists them. */
export const SEARCH_PROVIDERS = [bingProvider, openverseProvider, offlineProvider] as const;

export type SearchProviderName = (typeof SEARCH_PROVIDERS)[number]['name'];

/** The names plans may use (for the plan schema's enum). */
export const SEARCH_PROVIDER_NAMES = SEARCH_PROVIDERS.map((provider) => provider.name) as [
  SearchProviderName,
  ...SearchProviderName[],
];

/**
 * Gives the provider a plan names, each made on first use from the settings (so a setting only the bing provider
 * needs is only asked for by plans that use it) and shared after.
 */
export function searchProviderResolver(settings: CollectSettings): (name: SearchProviderName) => ImageSearchProvider {
  const made = new Map<SearchProviderName, ImageSearchProvider>();
  return (name) => {
    let provider = made.get(name);
    if (!provider) {
      const definition = SEARCH_PROVIDERS.find((candidate) => candidate.name === name);
      // The plan schema admits registered names only, and jobs are made from checked plans: another name is a bug.
      if (!definition)
        throw new ProgrammingError(`no search provider "${name}"; registered: ${SEARCH_PROVIDER_NAMES.join(', ')}`);
      made.set(name, (provider = definition.create(settings)));
    }
    return provider;
  };
}
