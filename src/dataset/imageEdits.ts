// Review edits of a dataset's accepted images: a new label, or exclusion from training and evaluation. Each edit is
// one catalog transaction (the image row, the per-label counts and a change row) guarded by the ETags of the image
// and the statistics row, so concurrent edits and ingests take turns and the counts stay exact. A relabelled image
// keeps its split, so the test set stays fixed. Every edit is recorded with when and from what to what, and the
// newest edit not yet undone can be undone (itself recorded as a change).
import { invalidArgument, InvalidArgumentError, NotFoundError, StateConflictError } from '../errors';
import {
  type Catalog,
  type CatalogChange,
  CatalogConflictError,
  type DatasetStats,
  type ImageEdits,
  type ImageRecord,
} from './catalog';
import { checkLabelFolder, labelsOf } from './names';

/** What a PATCH asks for: a new label folder (one label, or several joined by '+'), exclusion, or both. */
export interface ImageEditRequest {
  label?: string;
  excluded?: boolean;
}

const EDIT_FIELDS = ['label', 'excluded'] as const;
const MAX_COMMIT_ATTEMPTS = 30;

/** Checks a PATCH body: an object with `label` (a label or label set) and/or `excluded` (boolean), nothing else. */
export function parseImageEdit(body: unknown): ImageEditRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidArgument('the request body', 'an object like {"label": "shirt"}', body);
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !(EDIT_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      `unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}; an edit takes label, excluded`,
    );
  const edit: ImageEditRequest = {};
  if (fields['label'] !== undefined) {
    const label = fields['label'];
    if (typeof label !== 'string') throw invalidArgument('label', 'a string', label);
    const problem = checkLabelFolder(label);
    if (problem) throw new InvalidArgumentError(`label: ${problem}`);
    edit.label = label;
  }
  if (fields['excluded'] !== undefined) {
    const excluded = fields['excluded'];
    if (typeof excluded !== 'boolean') throw invalidArgument('excluded', 'true or false', excluded);
    edit.excluded = excluded;
  }
  if (edit.label === undefined && edit.excluded === undefined)
    throw new InvalidArgumentError('an edit needs label or excluded');
  return edit;
}

/** An image as an edit leaves it, and the change that was recorded (none when the edit changed nothing). */
export interface ImageEditResult {
  image: ImageRecord & { id: string };
  change?: CatalogChange;
}

/** Applies an edit to an accepted image (404 for an unknown one, 409 for one that is not accepted). */
export async function editImage(
  catalog: Catalog,
  dataset: string,
  imageId: string,
  body: unknown,
  now: () => Date = () => new Date(),
): Promise<ImageEditResult> {
  const edit = parseImageEdit(body);
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
    const [found, stats] = await Promise.all([catalog.getImage(dataset, imageId), catalog.requireStats(dataset)]);
    if (!found) throw new NotFoundError(`dataset "${dataset}" has no image "${imageId}"`);
    const { record, etag } = found;
    if (record.status !== 'accepted')
      throw new StateConflictError(`image "${imageId}" is ${record.status}; only accepted images can be edited`);
    const edits = editsBetween(record, edit);
    if (!edits.label && !edits.excluded) return { image: { id: imageId, ...record } };
    const change: CatalogChange = { id: stats.sequence + 1, at: now().toISOString(), imageId, edits };
    const after = applyEdits(record, edits);
    try {
      await catalog.commitImageEdit({
        dataset,
        imageId,
        imageEtag: etag,
        image: imageFields(record, after),
        stats: statsAfter(stats, record, after, change.id),
        change,
      });
      return { image: { id: imageId, ...after, sequence: change.id }, change };
    } catch (error) {
      if (!(error instanceof CatalogConflictError)) throw error;
      await pause(attempt);
    }
  }
  throw new Error(`edit of image "${imageId}": gave up after ${MAX_COMMIT_ATTEMPTS} conflicting commits`);
}

/** Undoes the dataset's newest change that is not an undo and not undone yet; 404 when there is none. */
export async function undoLastChange(
  catalog: Catalog,
  dataset: string,
  now: () => Date = () => new Date(),
): Promise<{ undone: CatalogChange; change: CatalogChange; image: ImageRecord & { id: string } }> {
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
    const stats = await catalog.requireStats(dataset);
    const target = (await catalog.listChanges(dataset)).find(
      ({ change }) => change.undoes === undefined && !change.undone,
    );
    if (!target) throw new NotFoundError(`dataset "${dataset}" has no change left to undo`);
    const { change: undone } = target;
    const found = await catalog.getImage(dataset, undone.imageId);
    if (!found) throw new StateConflictError(`image "${undone.imageId}" of change ${undone.id} no longer exists`);
    const { record, etag } = found;
    const inverse: ImageEdits = {};
    if (undone.edits.label) {
      if (record.label !== undone.edits.label.to)
        throw new StateConflictError(
          `change ${undone.id} set the label of "${undone.imageId}" to "${undone.edits.label.to}", ` +
            `but it is "${record.label}" now`,
        );
      inverse.label = { from: undone.edits.label.to, to: undone.edits.label.from };
    }
    if (undone.edits.excluded) {
      if ((record.excluded ?? false) !== undone.edits.excluded.to)
        throw new StateConflictError(`the exclusion of "${undone.imageId}" changed since change ${undone.id}`);
      inverse.excluded = { from: undone.edits.excluded.to, to: undone.edits.excluded.from };
    }
    if (record.status !== 'accepted')
      throw new StateConflictError(
        `image "${undone.imageId}" is ${record.status} now; change ${undone.id} cannot be undone`,
      );
    const change: CatalogChange = {
      id: stats.sequence + 1,
      at: now().toISOString(),
      imageId: undone.imageId,
      edits: inverse,
      undoes: undone.id,
    };
    const after = applyEdits(record, inverse);
    try {
      await catalog.commitImageEdit({
        dataset,
        imageId: undone.imageId,
        imageEtag: etag,
        image: imageFields(record, after),
        stats: statsAfter(stats, record, after, change.id),
        change,
        undoes: target,
      });
      return {
        undone: { ...undone, undone: true },
        change,
        image: { id: undone.imageId, ...after, sequence: change.id },
      };
    } catch (error) {
      if (!(error instanceof CatalogConflictError)) throw error;
      await pause(attempt);
    }
  }
  throw new Error(`undo in dataset "${dataset}": gave up after ${MAX_COMMIT_ATTEMPTS} conflicting commits`);
}

/** The dataset's recorded changes, newest first (404 for an unknown dataset). */
export async function listChanges(
  catalog: Catalog,
  dataset: string,
  options: { limit?: number } = {},
): Promise<{ dataset: string; changes: CatalogChange[] }> {
  await catalog.requireStats(dataset);
  return { dataset, changes: (await catalog.listChanges(dataset, options)).map(({ change }) => change) };
}

function editsBetween(record: ImageRecord, edit: ImageEditRequest): ImageEdits {
  const edits: ImageEdits = {};
  if (edit.label !== undefined && edit.label !== record.label) edits.label = { from: record.label, to: edit.label };
  const excluded = record.excluded ?? false;
  if (edit.excluded !== undefined && edit.excluded !== excluded) edits.excluded = { from: excluded, to: edit.excluded };
  return edits;
}

function applyEdits(record: ImageRecord, edits: ImageEdits): ImageRecord {
  return {
    ...record,
    ...(edits.label ? { label: edits.label.to, uploadedLabel: record.uploadedLabel ?? record.label } : {}),
    ...(edits.excluded ? { excluded: edits.excluded.to } : {}),
  };
}

function imageFields(
  before: ImageRecord,
  after: ImageRecord,
): { label: string; excluded: boolean; uploadedLabel?: string } {
  // The first relabel records the folder the image was uploaded under: its id and its blob stay named after it.
  const uploadedLabel = after.label !== before.label ? (before.uploadedLabel ?? before.label) : undefined;
  return { label: after.label, excluded: after.excluded ?? false, ...(uploadedLabel ? { uploadedLabel } : {}) };
}

/** The statistics with `before`'s share of the per-label counts replaced by `after`'s (excluded images have none). */
function statsAfter(stats: DatasetStats, before: ImageRecord, after: ImageRecord, sequence: number): DatasetStats {
  const labels = Object.fromEntries(Object.entries(stats.labels).map(([label, counts]) => [label, { ...counts }]));
  const count = (record: ImageRecord, delta: number) => {
    if (record.excluded || !record.split) return;
    for (const label of labelsOf(record.label)) (labels[label] ??= { train: 0, test: 0 })[record.split] += delta;
  };
  count(before, -1);
  count(after, +1);
  return { ...stats, labels, sequence };
}

/** A short random pause between attempts, so that writers contending for one dataset spread out. */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * Math.min(attempt + 1, 10)));
}
