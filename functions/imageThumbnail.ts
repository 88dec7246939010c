// GET /api/datasets/{dataset}/images/{id}/thumbnail?size=128: a small JPEG of a catalog image (its longer side at
// most `size`, 16-512), decoded under ingest's limits; cached in memory, with an ETag (304 when it matches).
import { app } from '@azure/functions';

import { type HttpCall, httpFunction } from '../src/api/httpFunction';
import { fileResponse, type JsonResponse, notModified } from '../src/api/responses';
import { parseThumbnailSize } from '../src/dataset/thumbnails';
import { appServices } from '../src/services';

/** A day: the ETag follows the file's content, so a revalidation after that is cheap. */
const CACHE_CONTROL = 'private, max-age=86400';

export async function imageThumbnail({ request, services, params }: HttpCall<'dataset' | 'id'>): Promise<JsonResponse> {
  const size = parseThumbnailSize(request.query.get('size'));
  const thumbnail = await services.thumbnails.get(
    params.dataset,
    params.id,
    size,
    request.headers.get('if-none-match'),
  );
  const caching = { etag: thumbnail.etag, 'cache-control': CACHE_CONTROL };
  if (!thumbnail.jpeg) return notModified(caching);
  return fileResponse(thumbnail.jpeg, {
    ...caching,
    'content-type': 'image/jpeg',
    'content-length': String(thumbnail.jpeg.length),
  });
}

app.http(
  'imageThumbnail',
  httpFunction(appServices, {
    methods: ['GET'],
    authLevel: 'function',
    route: 'datasets/{dataset}/images/{id}/thumbnail',
    params: { dataset: 'dataset', id: 'imageId' },
    handler: imageThumbnail,
  }),
);
