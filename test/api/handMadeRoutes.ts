// A function file for test/api/handMadeHost.test.ts: the app's datasetSummary handler registered, as the app's own
// files register it, but over hand-made services instead of the composition root's.
import { app } from '@azure/functions';

import { datasetSummary } from '../../functions/datasetSummary';
import { httpFunction } from '../../src/api/httpFunction';
import { NotFoundError } from '../../src/errors';
import { handMadeServices } from './handMadeServices';

const services = handMadeServices({
  catalog: {
    requireStats: async (dataset: string) => {
      if (dataset !== 'shirts') throw new NotFoundError(`dataset "${dataset}" has no images yet`);
      return { dataset, images: { accepted: 2 }, labels: { plaid: 2 }, sequence: 1 };
    },
  },
});

app.http(
  'handMadeSummary',
  httpFunction(async () => services, {
    methods: ['GET'],
    authLevel: 'anonymous',
    route: 'handmade/{dataset}',
    params: { dataset: 'dataset' },
    handler: datasetSummary,
  }),
);
