// Custom Vision's paths below `/customvision/{version}/training/` and `/customvision/{version}/prediction/`,
// dispatched to the operations (src/customvision/service.ts) after the key check. The HTTP edge hands over the
// method, the path below the API's base, the query, the headers and readers for the body; an operation not listed
// answers 501 naming it.
import type { UploadedFile } from '../serve/uploadedFile';
import { CustomVisionError, notSupported } from './errors';
import { parseId } from './ids';
import type { KeyCheck } from './keys';
import { type CustomVision, MAX_IMAGES_PER_BATCH, type NewImage, PREDICTION_MAX_BYTES } from './service';

export type CustomVisionApi = 'training' | 'prediction';

/** The API versions each API answers (as the SDKs and REST callers name them; compared case-insensitively). */
export const API_VERSIONS: Readonly<Record<CustomVisionApi, readonly string[]>> = {
  training: ['v3.4-preview', 'v3.3'],
  prediction: ['v3.1', 'v3.0'],
};

export interface CustomVisionRequest {
  api: CustomVisionApi;
  version: string;
  method: string;
  /** The path below the API's base (`projects/{id}/tags`), no leading slash. */
  path: string;
  query: URLSearchParams;
  header(name: string): string | null;
  /** The app's origin as the request reached it, for absolute links. */
  origin: string;
  /**
   * The body's images: multipart parts (the SDK's `imageData`) or a raw octet-stream body; each within `maxBytes`
   * (default: ingest's limit), a multipart part over it marked rejected.
   */
  images(maxBytes?: number): Promise<UploadedFile[]>;
  /** The JSON body, undefined when empty (the SDKs send empty JSON-typed bodies). */
  json(): Promise<unknown>;
}

export interface CustomVisionResponse {
  status: number;
  json?: unknown;
  file?: { stream: NodeJS.ReadableStream | Buffer; contentType: string; sizeInBytes?: number };
}

const ok = (json: unknown, status = 200): CustomVisionResponse => ({ status, json });
const noContent: CustomVisionResponse = { status: 204 };

export async function route(
  cv: CustomVision,
  keys: KeyCheck,
  request: CustomVisionRequest,
): Promise<CustomVisionResponse> {
  if (!API_VERSIONS[request.api].includes(request.version.toLowerCase()))
    throw new CustomVisionError(
      404,
      'NotFound',
      `the ${request.api} API is served at ${API_VERSIONS[request.api].join(' and ')}, not ${request.version}`,
    );
  const segments = request.path.split('/').filter((s) => s !== '');
  const method = request.method.toUpperCase();
  if (request.api === 'prediction') {
    keys.check('prediction', request.header('prediction-key'));
    return predict(cv, request, segments, method);
  }
  // The links this app hands out carry a token of their project instead of the key (as Custom Vision's SAS URLs).
  if (method === 'GET' && isLink(segments)) return link(cv, request, segments);
  keys.check('training', request.header('training-key'));
  return train(cv, request, segments, method);
}

function isLink(s: string[]): boolean {
  return (
    s[0] === 'projects' &&
    ((s.length === 5 && s[2] === 'images' && s[4] === 'original') ||
      (s.length === 6 && s[2] === 'iterations' && s[4] === 'export' && s[5] === 'model.onnx'))
  );
}

async function link(cv: CustomVision, request: CustomVisionRequest, s: string[]): Promise<CustomVisionResponse> {
  const projectId = parseId(s[1], 'projectId');
  if (s[2] === 'images') {
    const bytes = await cv.originalImage(projectId, parseId(s[3], 'imageId'), request.query);
    return { status: 200, file: { stream: bytes, contentType: 'application/octet-stream', sizeInBytes: bytes.length } };
  }
  const model = await cv.exportedModel(projectId, parseId(s[3], 'iterationId'), request.query);
  return {
    status: 200,
    file: { stream: model.stream, contentType: 'application/octet-stream', sizeInBytes: model.sizeInBytes },
  };
}

async function train(
  cv: CustomVision,
  request: CustomVisionRequest,
  s: string[],
  method: string,
): Promise<CustomVisionResponse> {
  const { query } = request;
  const key = `${method} ${s.map((segment, i) => (isVariable(s, i) ? '{id}' : segment.toLowerCase())).join('/')}`;
  const id = (i: number, what: string) => parseId(s[i], what);
  switch (key) {
    case 'POST projects':
      return ok(await cv.createProject(query));
    case 'GET projects':
      return ok(await cv.getProjects());
    case 'GET projects/{id}':
      return ok(await cv.getProject(id(1, 'projectId')));
    case 'DELETE projects/{id}':
      await cv.deleteProject(id(1, 'projectId'));
      return noContent;
    case 'POST projects/{id}/tags':
      return ok(await cv.createTag(id(1, 'projectId'), query));
    case 'GET projects/{id}/tags':
      return ok(await cv.getTags(id(1, 'projectId')));
    case 'GET projects/{id}/tags/{id}':
      return ok(await cv.getTag(id(1, 'projectId'), id(3, 'tagId')));
    case 'DELETE projects/{id}/tags/{id}':
      await cv.deleteTag(id(1, 'projectId'), id(3, 'tagId'));
      return noContent;
    case 'POST projects/{id}/images': {
      const tagIds = csvIds(query.get('tagIds'));
      const files = await request.images();
      const images: NewImage[] = files.map((file) => ({
        content: file.content,
        tagIds,
        ...(file.rejected ? { failed: 'ErrorImageSize' } : {}),
      }));
      const created = await cv.createImages(id(1, 'projectId'), images, request);
      return ok(created.body, created.status);
    }
    case 'POST projects/{id}/images/files':
      return created(cv, id(1, 'projectId'), fileBatch(await request.json()), request);
    case 'POST projects/{id}/images/urls': {
      const batch = urlBatch(await request.json());
      const images: NewImage[] = [];
      for (const entry of batch) {
        const fetched = await cv.fetchForUpload(entry.url);
        images.push({ ...fetched, tagIds: entry.tagIds, sourceUrl: entry.url });
      }
      return created(cv, id(1, 'projectId'), images, request);
    }
    case 'GET projects/{id}/images':
      return ok(await cv.getImages(id(1, 'projectId'), query, request));
    case 'GET projects/{id}/images/tagged':
      return ok(await cv.getTaggedImages(id(1, 'projectId'), query, request));
    case 'GET projects/{id}/images/tagged/count':
      return ok(await cv.getTaggedImageCount(id(1, 'projectId'), query));
    case 'POST projects/{id}/train':
      return ok(await cv.trainProject(id(1, 'projectId'), query));
    case 'GET projects/{id}/iterations':
      return ok(await cv.getIterations(id(1, 'projectId')));
    case 'GET projects/{id}/iterations/{id}':
      return ok(await cv.getIteration(id(1, 'projectId'), id(3, 'iterationId')));
    case 'DELETE projects/{id}/iterations/{id}':
      await cv.deleteIteration(id(1, 'projectId'), id(3, 'iterationId'));
      return noContent;
    case 'POST projects/{id}/iterations/{id}/publish':
      return ok(await cv.publishIteration(id(1, 'projectId'), id(3, 'iterationId'), query));
    case 'DELETE projects/{id}/iterations/{id}/publish':
      await cv.unpublishIteration(id(1, 'projectId'), id(3, 'iterationId'));
      return noContent;
    case 'GET projects/{id}/iterations/{id}/performance':
      return ok(await cv.getIterationPerformance(id(1, 'projectId'), id(3, 'iterationId'), query));
    case 'POST projects/{id}/iterations/{id}/export':
      return ok(await cv.exportIteration(id(1, 'projectId'), id(3, 'iterationId'), query, request));
    case 'GET projects/{id}/iterations/{id}/export':
      return ok(await cv.getExports(id(1, 'projectId'), id(3, 'iterationId'), request));
    case 'POST projects/{id}/quicktest/image': {
      const file = await oneImage(request);
      return ok(await cv.quickTest(id(1, 'projectId'), query.get('iterationId'), file));
    }
    case 'POST projects/{id}/quicktest/url': {
      const file = await cv.fetchImage(urlOf(await request.json()));
      return ok(await cv.quickTest(id(1, 'projectId'), query.get('iterationId'), file));
    }
    default:
      throw notSupported(`${method} ${request.api}/${request.version}/${s.join('/')}`);
  }
}

/** The segments that are ids: projects/{id}, and tags/{id} and iterations/{id} below a project. */
function isVariable(s: string[], i: number): boolean {
  return s[0] === 'projects' && (i === 1 || (i === 3 && (s[2] === 'tags' || s[2] === 'iterations')));
}

async function predict(
  cv: CustomVision,
  request: CustomVisionRequest,
  s: string[],
  method: string,
): Promise<CustomVisionResponse> {
  // {projectId}/classify/iterations/{publishedName}/image|url[/nostore]
  const shape =
    method === 'POST' &&
    (s.length === 5 || (s.length === 6 && s[5]!.toLowerCase() === 'nostore')) &&
    s[1]!.toLowerCase() === 'classify' &&
    s[2]!.toLowerCase() === 'iterations';
  const kind = s[4]?.toLowerCase();
  if (!shape || (kind !== 'image' && kind !== 'url'))
    throw notSupported(`${method} prediction/${request.version}/${s.join('/')}`);
  const projectId = parseId(s[0], 'projectId');
  const file = kind === 'image' ? await oneImage(request) : await cv.fetchImage(urlOf(await request.json()));
  // Nothing is stored either way: /nostore and the storing form answer alike.
  return ok(await cv.classifyPublished(projectId, s[3]!, file));
}

async function oneImage(request: CustomVisionRequest): Promise<UploadedFile> {
  const files = await request.images(PREDICTION_MAX_BYTES);
  if (files.length !== 1)
    throw new CustomVisionError(400, 'BadRequestImageBatch', `send one image (part "imageData"), got ${files.length}`);
  return files[0]!;
}

async function created(
  cv: CustomVision,
  projectId: string,
  images: NewImage[],
  request: CustomVisionRequest,
): Promise<CustomVisionResponse> {
  const answer = await cv.createImages(projectId, images, request);
  return ok(answer.body, answer.status);
}

/** A JSON object's field by name in any case (`{"Url": ...}` is `url`). */
function field(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null) return undefined;
  const entry = Object.entries(body).find(([key]) => key.toLowerCase() === name.toLowerCase());
  return entry?.[1];
}

function urlOf(body: unknown): unknown {
  return field(body, 'url');
}

function csvIds(value: string | null): string[] {
  return (value ?? '')
    .split(',')
    .filter((id) => id !== '')
    .map((id) => parseId(id, 'tagId'));
}

function idList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw new CustomVisionError(400, 'BadRequestImageTags', `${what} must be a list of tag ids`);
  return value.map((id) => parseId(typeof id === 'string' ? id : String(id), 'tagId'));
}

function batchEntries(body: unknown): { entries: unknown[]; tagIds: string[] } {
  const images = field(body, 'images');
  if (!Array.isArray(images))
    throw new CustomVisionError(400, 'BadRequestImageBatch', 'the body must be {"images": [...], "tagIds": [...]}');
  if (images.length > MAX_IMAGES_PER_BATCH)
    throw new CustomVisionError(400, 'BadRequestExceededBatchSize', `at most ${MAX_IMAGES_PER_BATCH} images per call`);
  if (field(body, 'metadata') !== undefined && field(body, 'metadata') !== null) throw notSupported('image metadata');
  return { entries: images, tagIds: idList(field(body, 'tagIds'), 'tagIds') };
}

function entryTags(entry: unknown, batchTags: string[]): string[] {
  if (field(entry, 'regions')) throw notSupported('regions (object detection)');
  return [...batchTags, ...idList(field(entry, 'tagIds'), 'tagIds')];
}

function fileBatch(body: unknown): NewImage[] {
  const { entries, tagIds } = batchEntries(body);
  return entries.map((entry) => {
    const contents = field(entry, 'contents');
    if (typeof contents !== 'string')
      throw new CustomVisionError(400, 'BadRequestImageStream', 'each image needs its "contents" in base64');
    const name = field(entry, 'name');
    return {
      content: Buffer.from(contents, 'base64'),
      tagIds: entryTags(entry, tagIds),
      ...(typeof name === 'string' ? { sourceUrl: name } : {}),
    };
  });
}

function urlBatch(body: unknown): { url: string; tagIds: string[] }[] {
  const { entries, tagIds } = batchEntries(body);
  return entries.map((entry) => {
    const url = field(entry, 'url');
    if (typeof url !== 'string' || url === '')
      throw new CustomVisionError(400, 'BadRequestImageUrl', 'each image needs its "url"');
    return { url, tagIds: entryTags(entry, tagIds) };
  });
}
