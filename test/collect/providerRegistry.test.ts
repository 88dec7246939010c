// The search-provider registry: plans may name the registered providers only, each is made on first use from the
// settings it needs (and only then asks for them), and shared after.
import { describe, expect, it } from 'vitest';

import { parsePlan } from '../../src/collect/plan';
import { BingImageSearchProvider } from '../../src/collect/providers/bing';
import { OfflineImageProvider } from '../../src/collect/providers/offline';
import { OpenverseProvider } from '../../src/collect/providers/openverse';
import { SEARCH_PROVIDER_NAMES, searchProviderResolver } from '../../src/collect/providers/registry';
import { loadSettings } from '../../src/config';
import { ProgrammingError } from '../../src/errors';

const plan = { dimensions: { item: ['shirt'] }, template: '{item}', labelFrom: 'item' };

describe('the search-provider registry', () => {
  it('makes each provider from its settings on first use and shares it', () => {
    const resolve = searchProviderResolver(
      loadSettings({ AzureWebJobsStorage: 'x', BING_SEARCH_KEY: 'k', OPENVERSE_ENDPOINT: 'https://ov.example.org' })
        .collect,
    );
    const bing = resolve('bing');
    expect(bing).toBeInstanceOf(BingImageSearchProvider);
    expect(resolve('bing')).toBe(bing);
    expect(resolve('openverse')).toBeInstanceOf(OpenverseProvider);
    expect(resolve('offline')).toBeInstanceOf(OfflineImageProvider);
    expect([bing.name, resolve('openverse').name, resolve('offline').name]).toEqual(SEARCH_PROVIDER_NAMES);
  });

  it('asks for a setting only when a plan uses the provider that needs it', () => {
    const resolve = searchProviderResolver(loadSettings({ AzureWebJobsStorage: 'x' }).collect);
    expect(resolve('offline')).toBeInstanceOf(OfflineImageProvider);
    expect(() => resolve('bing')).toThrow(/BING_SEARCH_KEY is not set: the collection plan uses the bing provider/);
    // The plan schema admits registered names only, so another one here is the code's bug.
    expect(() => resolve('google' as 'bing')).toThrow(ProgrammingError);
    expect(() => resolve('google' as 'bing')).toThrow(
      /no search provider "google"; registered: bing, openverse, offline/,
    );
  });

  it('is where the plan schema takes its provider names from', () => {
    expect(parsePlan({ ...plan, provider: 'openverse' }).provider).toBe('openverse');
    expect(() => parsePlan({ ...plan, provider: 'google' })).toThrow(/provider: .*"bing"\|"openverse"\|"offline"/);
  });
});
