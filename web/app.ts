// The web page's one script: review a dataset (counts, a grid of thumbnails, keyboard relabel and exclusion with
// undo, suspect labels as a ranked worklist, near duplicates with different labels side by side), start a training
// run and follow it, read the current model's metrics and plots, and try a photo. It talks only to this app's /api
// routes. Everything that comes from the data (labels, file names, reasons) is written with textContent, never
// parsed as HTML; the Content-Security-Policy allows no inline script or style.
//
// One source of truth: the page keeps each image as the API last returned it (a list, or the answer of a change:
// PATCH .../images/{id} and POST .../changes/undo both return the stored image), and every tile is drawn from that.
// Each kind of load (the list, the summary, the model, a try) has a generation: a newer one aborts the older one's
// request and ignores its answer, so answers arriving in any order cannot mix lists. Changes go one at a time, each
// computed from the stored state when its turn comes (so `x` twice excludes, then includes).

interface DatasetSummary {
  images: Record<string, number>;
  labels: Record<string, { train: number; test: number }>;
}
interface ImageEntry {
  id: string;
  name: string;
  label: string;
  status: string;
  split?: string;
  reason?: string;
  reasonCode?: string;
  relatedTo?: string;
  distanceBits?: number;
  excluded?: boolean;
  uploadedLabel?: string;
  sequence?: number;
  provenance?: Record<string, string>;
}
interface SuspectReport {
  modelVersion: string;
  trainImages: number;
  suspects: {
    id: string;
    name: string;
    label: string;
    proposedLabel: string;
    givenProbability?: number;
    proposedProbability?: number;
    probabilities: Record<string, number>;
    margin: number;
  }[];
  conflictingPairs: {
    images: { id: string; name: string; label: string; status: string; split?: string }[];
    distanceBits: number;
  }[];
}
interface ModelsList {
  versions: { version: string; serving: boolean; storedAt?: string; metrics?: { accuracy?: number; mAP?: number } }[];
}
interface ModelVersion {
  version: string;
  files: { name: string }[];
  /** The whole metrics.json. */
  metricsFile?: Record<string, unknown>;
}
interface TrainJob {
  jobId: string;
  status: string;
  stage: string;
  progress: number;
  error?: string;
  publishNote?: string;
}
interface Prediction {
  label: string;
  probability: number;
}

type View = 'images' | 'suspects' | 'conflicts';
const VIEWS: readonly View[] = ['images', 'suspects', 'conflicts'];
const STATUSES = ['accepted', 'duplicate', 'nearDuplicate', 'rejected'] as const;
const STATUS_WORDS: Record<string, [one: string, many: string]> = {
  accepted: ['accepted', 'accepted'],
  duplicate: ['duplicate', 'duplicates'],
  nearDuplicate: ['near duplicate', 'near duplicates'],
  rejected: ['rejected', 'rejected'],
};
/** What the trainer's stages mean to a person. */
const STAGE_WORDS: Record<string, string> = {
  queued: 'Waiting to start',
  launching: 'Starting the trainer',
  loading: 'Loading the images',
  features: 'Extracting features',
  searching: 'Choosing the recipe',
  training: 'Training',
  evaluating: 'Evaluating on the test split',
  'learning-curve': 'Measuring the learning curve',
  publishing: 'Publishing the model',
  done: 'Done',
  failed: 'Failed',
};

/** What a tile shows besides its image: a suspect's proposal, or the other image of a conflicting pair. */
interface Item {
  id: string;
  suspect?: { rank: number; label: string; givenProbability: number; proposed: string; proposedProbability: number };
  pair?: { index: number; partner: string; distanceBits: number; first: boolean };
}

// The function key: ?code= in the page's address (then kept, and taken out of the address so that a shared link
// carries none), else one typed into the key form; kept for this tab in sessionStorage, which only this origin
// reads. It goes only to this origin's /api (relative URLs; the page's Referrer-Policy is no-referrer), as the
// x-functions-key header, or as ?code= where an <img> cannot send headers.
const KEY_STORAGE = 'functionKey';
let functionKey = new URLSearchParams(location.search).get('code') ?? sessionStorage.getItem(KEY_STORAGE);
if (new URLSearchParams(location.search).has('code')) {
  if (functionKey) sessionStorage.setItem(KEY_STORAGE, functionKey);
  const url = new URL(location.href);
  url.searchParams.delete('code');
  history.replaceState(null, '', url);
}

/** The API answered 401: the key is missing or wrong. */
class KeyNeededError extends Error {}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

/** A node with text: data is never parsed as HTML. */
function node<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  className?: string,
): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  if (text !== undefined) created.textContent = text;
  if (className) created.className = className;
  return created;
}

function say(message: string, isError = false): void {
  const status = element('status');
  status.textContent = message;
  status.classList.toggle('error', isError);
}

function sayReview(message: string, isError = false): void {
  const status = element('review-status');
  status.textContent = message;
  status.classList.toggle('error', isError);
}

// API calls in flight, on <html data-api-calls>: a test waits for 0 to know that every answer was handled.
let apiCalls = 0;
function countCalls(delta: number): void {
  apiCalls += delta;
  document.documentElement.dataset['apiCalls'] = String(apiCalls);
}
countCalls(0);

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (functionKey) headers.set('x-functions-key', functionKey);
  countCalls(1);
  try {
    const response = await fetch(`/api/${path}`, { ...init, headers });
    const text = await response.text();
    // Azure's 401 and 404 have no body, and a proxy's error page is not JSON.
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (response.status === 401) throw new KeyNeededError('401 Unauthorized');
    if (!response.ok) {
      const message = (body as { message?: string } | undefined)?.message ?? response.statusText;
      throw new ApiError(response.status, message);
    }
    return body as T;
  } finally {
    countCalls(-1);
  }
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`);
  }
}

const isAbort = (error: unknown) => error instanceof DOMException && error.name === 'AbortError';

/**
 * Generations of one kind of load: start() aborts the previous one's request and returns the new one's signal
 * and a check that it is still the newest (an answer that is not is dropped).
 */
function generations(): () => { signal: AbortSignal; current: () => boolean } {
  let newest = 0;
  let controller: AbortController | undefined;
  return () => {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    const generation = ++newest;
    return { signal: mine.signal, current: () => generation === newest };
  };
}

function withKey(path: string): string {
  return functionKey ? `${path}${path.includes('?') ? '&' : '?'}code=${encodeURIComponent(functionKey)}` : path;
}

const percent = (value: unknown) => (typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : 'n/a');
const wholePercent = (value: number) => (value > 0 && value < 0.005 ? '<1%' : `${Math.round(value * 100)}%`);
const path = (dataset: string, rest = '') => `datasets/${encodeURIComponent(dataset)}${rest}`;
const labelWords = (label: string) => label.split('+').join(' + ');
const count = (n: number, [one, many]: [string, string]) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/** The file name an image id stands for (`img:` + encodeURIComponent(`label/file`)), for an image not loaded. */
function nameFromId(id: string): string | undefined {
  const invalid = id.startsWith('img::');
  let rest = id.slice(invalid ? 5 : id.startsWith('img:') ? 4 : 0);
  if (rest.startsWith('sha256-')) return undefined;
  try {
    rest = decodeURIComponent(rest);
  } catch {
    // Keep it as it is.
  }
  return rest.slice(rest.lastIndexOf('/') + 1) || undefined;
}

/** A metadata value as the collector stored it (URL-encoded ASCII), for reading. */
function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const state = {
  dataset: '',
  datasets: [] as string[],
  labels: [] as string[],
  view: 'images' as View,
  status: 'accepted' as string,
  label: '',
  /** What the grid shows, in order. */
  items: [] as Item[],
  /** The stored state of every image the page knows, by id: what tiles are drawn from. */
  images: new Map<string, ImageEntry>(),
  continuationToken: undefined as string | undefined,
  loading: false,
  paging: false,
  focused: 0,
  /** Ids whose change is being saved. */
  saving: new Set<string>(),
};

// ---------------------------------------------------------------------------------------------------------------
// The address: ?dataset=&view=&status=&label= (a view can be reloaded and shared).

function readAddress(): { dataset?: string; view: View; status: string; label: string } {
  const query = new URLSearchParams(location.search);
  const view = query.get('view') as View | null;
  const status = query.get('status');
  return {
    ...(query.get('dataset') ? { dataset: query.get('dataset')! } : {}),
    view: view && VIEWS.includes(view) ? view : 'images',
    status: status && (STATUSES as readonly string[]).includes(status) ? status : 'accepted',
    label: query.get('label') ?? '',
  };
}

function writeAddress(push: boolean): void {
  const query = new URLSearchParams();
  if (state.dataset) query.set('dataset', state.dataset);
  if (state.view !== 'images') query.set('view', state.view);
  if (state.view === 'images' && state.status !== 'accepted') query.set('status', state.status);
  if (state.label) query.set('label', state.label);
  const search = query.toString() ? `?${query.toString()}` : '';
  if (search === location.search) return;
  const url = `${location.pathname}${search}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

function showFilters(): void {
  element<HTMLSelectElement>('filter-view').value = state.view;
  const status = element<HTMLSelectElement>('filter-status');
  status.value = state.status;
  // Suspects and conflicts come from the accepted images (and the duplicates beside them).
  status.disabled = state.view !== 'images';
  const label = element<HTMLSelectElement>('filter-label');
  label.value = state.labels.includes(state.label) ? state.label : '';
}

// ---------------------------------------------------------------------------------------------------------------
// Datasets and their summary.

async function loadDatasets(): Promise<void> {
  const { datasets } = await api<{ datasets: string[] }>('datasets');
  state.datasets = datasets;
  const select = element<HTMLSelectElement>('dataset');
  select.replaceChildren(...datasets.map((name) => Object.assign(node('option', name), { value: name })));
  if (datasets.length === 0) {
    say('No datasets yet: upload a folder with icf upload, or start a collection.');
    return;
  }
  await applyAddress();
}

/** Opens what the address names (the first dataset when it names none, or one that does not exist). */
async function applyAddress(): Promise<void> {
  const wanted = readAddress();
  const dataset =
    wanted.dataset && state.datasets.includes(wanted.dataset) ? wanted.dataset : (state.datasets[0] ?? '');
  if (wanted.dataset && dataset !== wanted.dataset) say(`There is no dataset "${wanted.dataset}"`, true);
  state.view = wanted.view;
  state.status = wanted.status;
  state.label = wanted.label;
  if (dataset !== state.dataset) await openDataset(dataset, false);
  else {
    showFilters();
    await loadList();
  }
}

async function openDataset(dataset: string, push: boolean): Promise<void> {
  state.dataset = dataset;
  state.images = new Map();
  element<HTMLSelectElement>('dataset').value = dataset;
  clearTry();
  report(loadModel());
  report(followLatestJob());
  await loadSummary();
  // Another dataset was chosen meanwhile: its own opening goes on.
  if (state.dataset !== dataset) return;
  if (!state.labels.includes(state.label)) state.label = '';
  writeAddress(push);
  showFilters();
  await loadList();
}

const summaryLoads = generations();

async function loadSummary(): Promise<void> {
  const load = summaryLoads();
  const summary = await api<DatasetSummary>(path(state.dataset), { signal: load.signal });
  if (!load.current()) return;
  element('image-counts').textContent = STATUSES.map((status) =>
    count(summary.images[status] ?? 0, STATUS_WORDS[status]!),
  ).join(' · ');
  state.labels = Object.keys(summary.labels).sort();
  element('label-counts')
    .querySelector('tbody')!
    .replaceChildren(
      ...state.labels.map((label) => {
        const row = node('tr');
        const counts = summary.labels[label]!;
        row.append(node('td', labelWords(label)), node('td', String(counts.train)), node('td', String(counts.test)));
        return row;
      }),
    );
  element<HTMLSelectElement>('filter-label').replaceChildren(
    Object.assign(node('option', 'all'), { value: '' }),
    ...state.labels.map((label) => Object.assign(node('option', labelWords(label)), { value: label })),
  );
  element<HTMLSelectElement>('filter-label').value = state.labels.includes(state.label) ? state.label : '';
  element('label-keys').replaceChildren(
    ...state.labels.slice(0, 9).map((label, i) => {
      const item = node('li');
      item.dataset['label'] = label;
      item.append(node('kbd', String(i + 1)), ` ${labelWords(label)}`);
      return item;
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The list: one generation at a time.

const listLoads = generations();
let currentList: ReturnType<typeof listLoads> | undefined;

/** Keeps the newer of two states of an image (by its place in the dataset's change sequence). */
function remember(entry: ImageEntry): ImageEntry {
  const known = state.images.get(entry.id);
  const kept = known && (known.sequence ?? -1) > (entry.sequence ?? -1) ? known : entry;
  state.images.set(entry.id, kept);
  return kept;
}

function loadingText(): string {
  if (state.view === 'suspects')
    return 'Finding suspect labels: the model checks every training image (a few seconds)…';
  if (state.view === 'conflicts') return 'Finding near duplicates with different labels…';
  return 'Loading images…';
}

async function loadList(): Promise<void> {
  const load = listLoads();
  currentList = load;
  state.items = [];
  state.continuationToken = undefined;
  state.focused = 0;
  state.loading = true;
  state.paging = false;
  sayReview('');
  renderAll();
  try {
    if (state.view === 'images') {
      await loadPage(load);
    } else {
      const report = await api<SuspectReport>(path(state.dataset, '/suspects'), { signal: load.signal });
      if (!load.current()) return;
      state.items = state.view === 'suspects' ? suspectItems(report) : pairItems(report);
    }
  } catch (error) {
    if (!load.current() || isAbort(error)) return;
    state.items = [];
    if (error instanceof ApiError && error.status === 503 && state.view !== 'images')
      sayReview('Suspect labels need a trained model: train one first (Training, on the right).', true);
    else if (error instanceof ApiError) sayReview(error.detail, true);
    else throw error;
  } finally {
    if (load.current()) {
      state.loading = false;
      renderAll();
    }
  }
}

/** The next page of the images view (of the current generation). */
async function loadPage(load: ReturnType<typeof listLoads>): Promise<void> {
  const query = new URLSearchParams({ status: state.status, pageSize: '200' });
  if (state.label) query.set('label', state.label);
  if (state.continuationToken) query.set('continuationToken', state.continuationToken);
  const page = await api<{ images: ImageEntry[]; continuationToken?: string }>(
    path(state.dataset, `/images?${query.toString()}`),
    { signal: load.signal },
  );
  if (!load.current()) return;
  // A page never adds an image the list has already (a continuation that overlaps would duplicate it).
  const shown = new Set(state.items.map((item) => item.id));
  for (const image of page.images) {
    if (shown.has(image.id)) continue;
    shown.add(image.id);
    remember(image);
    state.items.push({ id: image.id });
  }
  state.continuationToken = page.continuationToken;
}

/** Loads the next page when the grid nears the end of what is loaded. */
function pageOnIfNeeded(end: number): void {
  const load = currentList;
  if (!load || state.view !== 'images' || !state.continuationToken || state.loading || state.paging) return;
  if (end < state.items.length - layout.columns * 4) return;
  state.paging = true;
  renderFooter();
  report(
    loadPage(load)
      .catch((error: unknown) => {
        if (!isAbort(error) && load.current()) throw error;
      })
      .finally(() => {
        if (!load.current()) return;
        state.paging = false;
        // The new images come after the ones drawn: those stay as they are (and the focused one keeps focus).
        renderWindow();
        renderFooter();
      }),
  );
}

function suspectItems(report: SuspectReport): Item[] {
  return report.suspects
    .filter((suspect) => !state.label || suspect.label === state.label)
    .map((suspect, rank) => {
      // The report's suspects are accepted training images, as the catalog had them when it was computed.
      remember({ id: suspect.id, name: suspect.name, label: suspect.label, status: 'accepted', split: 'train' });
      return {
        id: suspect.id,
        suspect: {
          rank: rank + 1,
          label: suspect.label,
          givenProbability: suspect.givenProbability ?? suspect.probabilities[suspect.label] ?? 0,
          proposed: suspect.proposedLabel,
          proposedProbability: suspect.proposedProbability ?? suspect.probabilities[suspect.proposedLabel] ?? 0,
        },
      };
    });
}

function pairItems(report: SuspectReport): Item[] {
  const items: Item[] = [];
  report.conflictingPairs
    .filter((pair) => !state.label || pair.images.some((image) => image.label === state.label))
    .forEach((pair, index) => {
      const [a, b] = pair.images;
      if (!a || !b) return;
      for (const [image, partner, first] of [
        [a, b, true],
        [b, a, false],
      ] as const) {
        remember({ ...image });
        items.push({ id: image.id, pair: { index, partner: partner.id, distanceBits: pair.distanceBits, first } });
      }
    });
  return items;
}

// ---------------------------------------------------------------------------------------------------------------
// The grid: only the rows in sight (and a few around them) are in the page, so 10,000 images scroll as 100 do.

const layout = { columns: 1, rowStep: 200, measured: false };
const OVERSCAN_ROWS = 3;
const MIN_TILE_PX = 140;
const rendered = new Map<number, HTMLLIElement>();

function gapPx(): number {
  return parseFloat(getComputedStyle(element('grid')).rowGap) || 8;
}

function computeColumns(): void {
  const width = element('grid').clientWidth || element('grid-viewport').clientWidth;
  const gap = gapPx();
  let columns = Math.max(1, Math.floor((width + gap) / (MIN_TILE_PX + gap)));
  // A conflicting pair sits in one row, side by side.
  if (state.view === 'conflicts') columns = Math.max(2, columns - (columns % 2));
  if (columns !== layout.columns) layout.measured = false;
  layout.columns = columns;
  element('grid').style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
}

function renderAll(): void {
  for (const tile of rendered.values()) tile.remove();
  rendered.clear();
  // A view's tiles have their own height (a worklist's have a line more): measure again.
  element('grid').dataset['view'] = state.view;
  layout.measured = false;
  computeColumns();
  renderWindow();
  renderFooter();
}

function renderWindow(): void {
  const viewport = element('grid-viewport');
  const grid = element('grid');
  const total = state.items.length;
  const rows = Math.ceil(total / layout.columns);
  const top = Math.max(0, viewport.scrollTop - grid.offsetTop);
  const firstRow = Math.max(0, Math.floor(top / layout.rowStep) - OVERSCAN_ROWS);
  const lastRow = Math.min(rows, Math.ceil((top + viewport.clientHeight) / layout.rowStep) + OVERSCAN_ROWS);
  const start = firstRow * layout.columns;
  const end = Math.min(total, lastRow * layout.columns);
  for (const [index, tile] of rendered) {
    if (index < start || index >= end) {
      tile.remove();
      rendered.delete(index);
    }
  }
  let previous: HTMLLIElement | undefined;
  for (let index = start; index < end; index++) {
    let tile = rendered.get(index);
    if (!tile) {
      tile = createTile(index);
      rendered.set(index, tile);
      if (previous) previous.after(tile);
      else grid.prepend(tile);
    }
    previous = tile;
  }
  grid.style.paddingTop = `${firstRow * layout.rowStep}px`;
  grid.style.height = `${Math.max(0, rows * layout.rowStep - gapPx())}px`;
  grid.setAttribute('aria-busy', String(state.loading));
  grid.setAttribute('aria-rowcount', String(rows));
  grid.dataset['count'] = String(total);
  // Every tile has one height: measure it once per layout, and draw again if the guess was off.
  const sample = rendered.get(start);
  if (sample && !layout.measured) {
    layout.measured = true;
    const step = sample.getBoundingClientRect().height + gapPx();
    if (step > 0 && Math.abs(step - layout.rowStep) > 0.5) {
      layout.rowStep = step;
      renderWindow();
      return;
    }
  }
  pageOnIfNeeded(end);
}

function createTile(index: number): HTMLLIElement {
  const item = state.items[index]!;
  const image = state.images.get(item.id)!;
  const tile = node('li', undefined, 'tile');
  tile.dataset['index'] = String(index);
  tile.dataset['id'] = item.id;
  tile.tabIndex = index === state.focused ? 0 : -1;
  const thumbs = node('figure', undefined, 'thumbs');
  const thumbnail = node('img', undefined, 'thumb');
  thumbnail.alt = image.name;
  thumbnail.loading = 'lazy';
  thumbnail.src = thumbnailUrl(image.id, 160);
  thumbs.append(thumbnail);
  if (image.relatedTo && image.status !== 'accepted' && !item.pair) {
    // A duplicate or near duplicate beside what it duplicates.
    const related = node('figure', undefined, 'related');
    const original = node('img');
    original.alt = relationText(image) ?? '';
    original.loading = 'lazy';
    original.src = thumbnailUrl(image.relatedTo, 96);
    related.append(original);
    thumbs.append(related);
  }
  tile.append(thumbs, node('div', undefined, 'info'));
  fillTile(tile, item, image);
  return tile;
}

function thumbnailUrl(id: string, size: number): string {
  return withKey(`/api/${path(state.dataset, `/images/${encodeURIComponent(id)}/thumbnail?size=${size}`)}`);
}

function nameOf(id: string): string {
  return state.images.get(id)?.name ?? nameFromId(id) ?? 'another image';
}

function relationText(image: ImageEntry): string | undefined {
  if (!image.relatedTo) return undefined;
  const other = nameOf(image.relatedTo);
  if (image.status === 'duplicate') return `copy of ${other}`;
  const bits = image.distanceBits === undefined ? '' : ` (${image.distanceBits} bits)`;
  if (image.status === 'nearDuplicate') return `near duplicate of ${other}${bits}`;
  return `grouped with ${other}${bits}`;
}

function pairRelation(image: ImageEntry, pair: NonNullable<Item['pair']>): string {
  const other = nameOf(pair.partner);
  const bits = `(${pair.distanceBits} bits)`;
  if (image.status === 'duplicate') return `copy of ${other}`;
  if (image.status === 'nearDuplicate') return `near duplicate of ${other} ${bits}`;
  return `looks like ${other} ${bits}`;
}

/** How a person would say what an image's status is: "is a near duplicate". */
function statusSentence(status: string): string {
  if (status === 'rejected') return 'was rejected';
  return `is a ${STATUS_WORDS[status]?.[0] ?? status}`;
}

/** Whether a worklist item is done: a suspect relabelled or excluded, a pair that agrees or lost one image. */
function resolved(item: Item): boolean {
  const image = state.images.get(item.id);
  if (!image) return false;
  if (item.suspect) return image.excluded === true || image.label !== item.suspect.label;
  if (item.pair) {
    const partner = state.images.get(item.pair.partner);
    return image.excluded === true || partner?.excluded === true || image.label === partner?.label;
  }
  return false;
}

/** The label `a` gives: the suspect's proposal, or the other image's label in a pair. */
function proposalOf(item: Item): string | undefined {
  if (item.suspect) return item.suspect.proposed;
  if (item.pair) return state.images.get(item.pair.partner)?.label;
  return undefined;
}

/** Draws a tile's classes and lines from the image's stored state (the element, and its focus, stay). */
function fillTile(tile: HTMLLIElement, item: Item, image: ImageEntry): void {
  const done = resolved(item);
  tile.classList.toggle('excluded', image.excluded === true);
  tile.classList.toggle('suspect', item.suspect !== undefined);
  tile.classList.toggle('pair', item.pair !== undefined);
  tile.classList.toggle('pair-first', item.pair?.first === true);
  tile.classList.toggle('resolved', done);
  tile.classList.toggle('saving', state.saving.has(image.id));
  tile.dataset['label'] = image.label;
  tile.dataset['excluded'] = String(image.excluded === true);
  const lines: HTMLElement[] = [];
  const labelLine = node('div', undefined, 'label-line');
  labelLine.append(node('span', labelWords(image.label), 'label'));
  // A suspect's given label with its out-of-fold probability (while it still has that label).
  if (item.suspect && !done) labelLine.append(' ', node('span', wholePercent(item.suspect.givenProbability), 'given'));
  lines.push(labelLine);
  if (item.suspect) {
    const s = item.suspect;
    lines.push(
      node(
        'div',
        done
          ? image.excluded
            ? '✓ excluded'
            : `✓ now ${labelWords(image.label)}`
          : `proposed ${labelWords(s.proposed)} ${wholePercent(s.proposedProbability)}`,
        'proposal',
      ),
    );
  } else if (item.pair) {
    const partner = state.images.get(item.pair.partner);
    lines.push(
      node(
        'div',
        done
          ? image.excluded || partner?.excluded
            ? '✓ one of the two is excluded'
            : '✓ the labels agree'
          : `the other is ${labelWords(partner?.label ?? '?')}`,
        'proposal',
      ),
    );
  }
  lines.push(node('div', image.name, 'name'));
  const meta: string[] = [];
  const relation = item.pair ? pairRelation(image, item.pair) : relationText(image);
  // The relation says what a duplicate is; a rejected image says why.
  if (image.status === 'rejected') meta.push(image.reason ? `rejected: ${image.reason}` : 'rejected');
  else if (image.status !== 'accepted' && !relation) meta.push(STATUS_WORDS[image.status]?.[0] ?? image.status);
  if (image.split) meta.push(image.split);
  if (image.uploadedLabel && image.uploadedLabel !== image.label)
    meta.push(`uploaded as ${labelWords(image.uploadedLabel)}`);
  if (relation) meta.push(relation);
  const metaLine = node('div', meta.join(' · '), 'meta');
  if (relation) metaLine.classList.add('relation');
  lines.push(metaLine);
  tile.querySelector('.info')!.replaceChildren(...lines);
  const badges = [...tile.querySelectorAll('.rank, .state')];
  for (const badge of badges) badge.remove();
  const thumbs = tile.querySelector('.thumbs')!;
  if (item.suspect) thumbs.append(node('span', `#${item.suspect.rank}`, 'rank'));
  if (image.excluded) thumbs.append(node('span', 'excluded', 'state'));
  else if (done) thumbs.append(node('span', 'fixed', 'state'));
  const query = image.provenance?.['query'];
  tile.title = [
    image.name,
    `label ${labelWords(image.label)}`,
    query ? `found by searching “${decoded(query)}”` : undefined,
    image.status === 'rejected' || image.status === 'nearDuplicate' ? image.reason : undefined,
  ]
    .filter(Boolean)
    .join('\n');
}

/** Draws again every tile in sight that shows one of `ids` (two, for a pair), and the counts. */
function refreshTiles(...ids: string[]): void {
  for (const [index, tile] of rendered) {
    const item = state.items[index];
    if (!item) continue;
    if (ids.includes(item.id) || (item.pair && ids.includes(item.pair.partner)))
      fillTile(tile, item, state.images.get(item.id)!);
  }
  renderFooter();
}

function renderFooter(): void {
  const total = state.items.length;
  const loadingLine = element('grid-loading');
  loadingLine.hidden = !state.loading;
  loadingLine.textContent = state.loading ? loadingText() : '';
  const empty = element('grid-empty');
  empty.hidden = state.loading || total > 0 || element('review-status').classList.contains('error');
  empty.textContent =
    state.view === 'suspects'
      ? 'No suspect labels: the model agrees with every training label.'
      : state.view === 'conflicts'
        ? 'No near duplicates with different labels.'
        : 'No images here.';
  const worklist = element('worklist');
  worklist.hidden = state.view === 'images' || state.loading || total === 0;
  if (state.view === 'suspects') {
    const left = state.items.filter((item) => !resolved(item)).length;
    worklist.textContent = `${left} of ${count(total, ['suspect', 'suspects'])} left, most suspect first`;
  } else if (state.view === 'conflicts') {
    const pairs = total / 2;
    const left = state.items.filter((item) => item.pair?.first && !resolved(item)).length;
    worklist.textContent = `${left} of ${count(pairs, ['pair', 'pairs'])} left to settle`;
  }
  const footer = element('grid-footer');
  if (state.loading) footer.textContent = '';
  else if (state.view === 'images')
    footer.textContent = state.continuationToken
      ? `${count(total, ['image', 'images'])} so far; ${state.paging ? 'loading more…' : 'more load as you scroll'}`
      : count(total, ['image', 'images']);
  else footer.textContent = '';
}

function focusTile(index: number): void {
  if (state.items.length === 0) return;
  state.focused = Math.max(0, Math.min(state.items.length - 1, index));
  // Bring its row into sight, draw what is in sight, then focus it.
  const viewport = element('grid-viewport');
  const grid = element('grid');
  const row = Math.floor(state.focused / layout.columns);
  const rowTop = grid.offsetTop + row * layout.rowStep;
  if (rowTop < viewport.scrollTop) viewport.scrollTop = rowTop - gapPx();
  else if (rowTop + layout.rowStep > viewport.scrollTop + viewport.clientHeight)
    viewport.scrollTop = rowTop + layout.rowStep - viewport.clientHeight;
  renderWindow();
  for (const [i, tile] of rendered) tile.tabIndex = i === state.focused ? 0 : -1;
  rendered.get(state.focused)?.focus({ preventScroll: true });
}

// ---------------------------------------------------------------------------------------------------------------
// Changes: one at a time, each from the stored state when its turn comes, each answer replacing the tile's state.

let changes: Promise<void> = Promise.resolve();

function enqueue(change: () => Promise<void>): void {
  const run = changes.then(change);
  changes = run.catch(() => undefined);
  report(run);
}

/** A change of the focused image: `body` says what to send, from the image as stored now. */
function changeFocused(
  body: (image: ImageEntry, item: Item) => { label?: string; excluded?: boolean } | string,
  advance: boolean,
): void {
  const index = state.focused;
  const item = state.items[index];
  const list = currentList;
  if (!item) return;
  enqueue(async () => {
    const image = state.images.get(item.id);
    if (!image || list !== currentList) return;
    const wanted = body(image, item);
    if (typeof wanted === 'string') {
      sayReview(wanted, true);
      return;
    }
    if (image.status !== 'accepted') {
      sayReview(
        `${image.name} ${statusSentence(image.status)}, kept out of training: only accepted images can be changed.`,
        true,
      );
      return;
    }
    state.saving.add(image.id);
    refreshTiles(image.id);
    try {
      const answer = await api<{ image: ImageEntry; change?: unknown }>(
        path(state.dataset, `/images/${encodeURIComponent(image.id)}`),
        { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(wanted) },
      );
      // The stored image is the answer's `image`: the tile is drawn from it.
      const stored = remember(answer.image);
      sayReview(
        wanted.label !== undefined
          ? `${stored.name}: now ${labelWords(stored.label)}`
          : `${stored.name}: ${stored.excluded ? 'excluded from training and evaluation' : 'included again'}`,
      );
      if (advance && list === currentList && resolved(item)) focusNextOpen(index);
    } finally {
      state.saving.delete(image.id);
      refreshTiles(image.id);
    }
    await loadSummary();
  });
}

/** In a worklist, moves on to the next item not yet done (after `from`, then from the start). */
function focusNextOpen(from: number): void {
  if (state.view === 'images') return;
  const step = state.view === 'conflicts' ? 2 : 1;
  const start = state.view === 'conflicts' ? from - (from % 2) : from;
  for (let k = 1; k <= state.items.length / step; k++) {
    const index = (start + k * step) % state.items.length;
    if (!resolved(state.items[index]!)) {
      focusTile(index);
      return;
    }
  }
}

function undo(): void {
  const list = currentList;
  enqueue(async () => {
    let answer: { image: ImageEntry; undone: { edits: { label?: { to: string }; excluded?: { to: boolean } } } };
    try {
      answer = await api(path(state.dataset, '/changes/undo'), { method: 'POST' });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        sayReview('Nothing left to undo.');
        return;
      }
      throw error;
    }
    const stored = remember(answer.image);
    const what = answer.undone.edits.label
      ? `back to ${labelWords(stored.label)}`
      : stored.excluded
        ? 'excluded again'
        : 'included again';
    sayReview(`Undone: ${stored.name} ${what}`);
    refreshTiles(stored.id);
    const index = state.items.findIndex((item) => item.id === stored.id);
    if (index >= 0 && list === currentList) focusTile(index);
    await loadSummary();
  });
}

function onKey(event: KeyboardEvent): void {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target as HTMLElement;
  // Keys typed into a form control are its own; the grid's keys work from a tile, the grid or the page itself.
  if (target.closest('input, select, textarea, button, summary, #key-form')) return;
  if (!(target === document.body || target.closest('#grid-viewport'))) return;
  const columns = layout.columns;
  const moves: Record<string, number> = {
    ArrowRight: 1,
    ArrowLeft: -1,
    ArrowDown: columns,
    ArrowUp: -columns,
    PageDown: columns * 4,
    PageUp: -columns * 4,
  };
  const move = moves[event.key];
  if (move !== undefined) {
    event.preventDefault();
    focusTile(state.focused + move);
  } else if (event.key === 'Home' || event.key === 'End') {
    event.preventDefault();
    focusTile(event.key === 'Home' ? 0 : state.items.length - 1);
  } else if (/^[1-9]$/.test(event.key) && state.labels[Number(event.key) - 1]) {
    const label = state.labels[Number(event.key) - 1]!;
    changeFocused(() => ({ label }), true);
  } else if (event.key === 'a') {
    changeFocused((image, item) => {
      const proposal = proposalOf(item);
      if (!proposal) return `${image.name}: no label is proposed here (suspect labels and conflicting pairs have one).`;
      return { label: proposal };
    }, true);
  } else if (event.key === 'x') {
    // A toggle: the opposite of what is stored, when this change's turn comes.
    changeFocused((image) => ({ excluded: !(image.excluded ?? false) }), true);
  } else if (event.key === 'u') {
    undo();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Training: the job's stage and progress; the bar never goes back within one job.

const follows = generations();

async function followLatestJob(): Promise<void> {
  const follow = follows();
  const dataset = state.dataset;
  element('train-stage').textContent = '';
  element<HTMLProgressElement>('train-progress').hidden = true;
  element<HTMLButtonElement>('train').disabled = false;
  let jobs: TrainJob[];
  try {
    ({ jobs } = await api<{ jobs: TrainJob[] }>(path(dataset, '/jobs'), { signal: follow.signal }));
  } catch (error) {
    if (isAbort(error) || !follow.current()) return;
    throw error;
  }
  const latest = jobs[0];
  if (!follow.current() || !latest) return;
  if (latest.status === 'queued' || latest.status === 'running') await followJob(latest, dataset, follow);
  else showJobEnd(latest);
}

async function train(): Promise<void> {
  const dataset = state.dataset;
  const follow = follows();
  element<HTMLButtonElement>('train').disabled = true;
  const job = await api<TrainJob>(path(dataset, '/train'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  await followJob(job, dataset, follow);
}

async function followJob(first: TrainJob, dataset: string, follow: ReturnType<typeof follows>): Promise<void> {
  const button = element<HTMLButtonElement>('train');
  const progress = element<HTMLProgressElement>('train-progress');
  const stage = element('train-stage');
  let shown = 0;
  let job = first;
  button.disabled = true;
  progress.hidden = false;
  progress.value = 0;
  try {
    while (job.status === 'queued' || job.status === 'running') {
      shown = Math.max(shown, job.progress || 0);
      progress.value = shown;
      stage.textContent = `${stageWords(job.stage)} · ${Math.round(shown * 100)}%`;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (!follow.current()) return;
      job = await api<TrainJob>(path(dataset, `/jobs/${encodeURIComponent(job.jobId)}`), { signal: follow.signal });
      if (!follow.current()) return;
    }
    progress.value = 1;
    showJobEnd(job);
    await loadModel();
  } catch (error) {
    if (isAbort(error) || !follow.current()) return;
    throw error;
  } finally {
    if (follow.current()) button.disabled = false;
  }
}

/** A metric's key as words: balancedAccuracy is "balanced accuracy"; mAP and F1 stay as they are written. */
function metricWords(name: string): string {
  if (/^[a-z]+$|[A-Z]{2}/.test(name)) return name;
  return name.replace(/([a-z0-9])([A-Z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`);
}

function stageWords(stage: string | undefined): string {
  if (!stage) return 'Working';
  // The recipe search names the candidate it tries: "search: squash, plain views (2/4)".
  const search = /^search: (.+)$/.exec(stage);
  if (search) return `Trying a recipe: ${search[1]}`;
  return STAGE_WORDS[stage] ?? stage.charAt(0).toUpperCase() + stage.slice(1).replaceAll('-', ' ');
}

function showJobEnd(job: TrainJob): void {
  element('train-stage').textContent =
    job.status === 'succeeded'
      ? `Done. ${job.publishNote ?? ''}`.trim()
      : `Training ${job.status}: ${job.error ?? 'no reason given'}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The model's figures.

const modelLoads = generations();

async function loadModel(): Promise<void> {
  const load = modelLoads();
  const dataset = state.dataset;
  const headline = element('model-headline');
  const metricsList = element('model-metrics');
  const plots = element('plots');
  let list: ModelsList;
  try {
    list = await api<ModelsList>(path(dataset, '/models'), { signal: load.signal });
  } catch (error) {
    if (isAbort(error) || !load.current()) return;
    list = { versions: [] };
  }
  if (!load.current()) return;
  element('versions').replaceChildren(
    ...list.versions.map((v) =>
      node(
        'li',
        `${v.storedAt ? new Date(v.storedAt).toLocaleString() : v.version}${v.serving ? ' (serving)' : ''}: ` +
          percent(v.metrics?.mAP ?? v.metrics?.accuracy),
      ),
    ),
  );
  const serving = list.versions.find((v) => v.serving);
  if (!serving) {
    headline.textContent = 'No model yet: train one.';
    metricsList.replaceChildren();
    element('model-verdict').textContent = '';
    plots.replaceChildren();
    return;
  }
  const detail = await api<ModelVersion>(path(dataset, `/models/${encodeURIComponent(serving.version)}`), {
    signal: load.signal,
  });
  if (!load.current()) return;
  const metrics = detail.metricsFile ?? {};
  headline.textContent = `The model serving now: test accuracy ${percent(metrics['accuracy'])}`;
  const learningCurve = metrics['learningCurve'] as { verdict?: string } | undefined;
  const figures: [string, string][] = [
    ['mAP', percent(metrics['mAP'])],
    ['macro F1', percent((metrics['macro'] as { f1?: number } | undefined)?.f1)],
    ...Object.entries((metrics['testMetrics'] as Record<string, number | null> | undefined) ?? {}).map(
      ([name, value]): [string, string] => [metricWords(name), value === null ? 'n/a' : value.toFixed(3)],
    ),
  ];
  metricsList.replaceChildren(
    ...figures.filter(([, value]) => value !== 'n/a').map(([name, value]) => node('li', `${name}: ${value}`)),
  );
  element('model-verdict').textContent = learningCurve?.verdict ? `Learning curve: ${learningCurve.verdict}` : '';
  plots.replaceChildren(
    ...detail.files
      .filter((file) => file.name.endsWith('.svg'))
      .map((file) => {
        const plot = node('img');
        plot.alt = file.name;
        plot.title = `${file.name.replace(/\.svg$/, '').replaceAll('-', ' ')} (click to enlarge)`;
        plot.src = withKey(
          `/api/${path(dataset, `/models/${encodeURIComponent(detail.version)}/files/${encodeURIComponent(file.name)}`)}`,
        );
        plot.addEventListener('click', () => plot.classList.toggle('enlarged'));
        return plot;
      }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Try it: the photo's preview, then its predictions, or its error beside the box.

const tries = generations();
let previewUrl: string | undefined;

function clearTry(): void {
  tries();
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = undefined;
  element<HTMLImageElement>('try-preview').hidden = true;
  element('try-error').hidden = true;
  element('try-busy').hidden = true;
  element('predictions').replaceChildren();
}

async function tryPhoto(file: File | Blob): Promise<void> {
  clearTry();
  const attempt = tries();
  const preview = element<HTMLImageElement>('try-preview');
  previewUrl = URL.createObjectURL(file);
  preview.src = previewUrl;
  preview.alt = `the photo being classified${'name' in file && file.name ? `: ${file.name}` : ''}`;
  preview.hidden = false;
  element('try-busy').hidden = false;
  try {
    const result = await api<{ predictions: Prediction[] }>(path(state.dataset, '/classify'), {
      method: 'POST',
      headers: { 'content-type': file.type || 'application/octet-stream' },
      body: file,
      signal: attempt.signal,
    });
    if (!attempt.current()) return;
    element('predictions').replaceChildren(
      ...result.predictions.map((prediction) => {
        const item = node('li', `${labelWords(prediction.label)} ${percent(prediction.probability)}`);
        const bar = node('span', undefined, 'bar');
        bar.style.width = `${Math.round(prediction.probability * 8)}rem`;
        item.append(bar);
        return item;
      }),
    );
  } catch (error) {
    if (isAbort(error) || !attempt.current()) return;
    if (error instanceof KeyNeededError) throw error;
    const shown = element('try-error');
    shown.textContent =
      error instanceof ApiError && error.status === 503
        ? 'There is no model to try yet: train one first.'
        : `This file cannot be classified: ${error instanceof ApiError ? error.detail : (error as Error).message}`;
    shown.hidden = false;
  } finally {
    if (attempt.current()) element('try-busy').hidden = true;
  }
}

// ---------------------------------------------------------------------------------------------------------------

function report(promise: Promise<unknown>): void {
  promise.catch((error: unknown) => {
    if (isAbort(error)) return;
    if (error instanceof KeyNeededError) askForKey();
    else say(error instanceof ApiError ? error.detail : (error as Error).message, true);
  });
}

/** Shows the key form, saying why: no key yet, or one the app refused. */
function askForKey(): void {
  element('key-message').textContent = functionKey
    ? 'The app refused this function key (401 Unauthorized). Enter a valid one.'
    : 'This app needs a function key (its API answered 401 Unauthorized). Enter one of its keys to continue.';
  say('Waiting for a function key', true);
  element('key-form').hidden = false;
  element<HTMLInputElement>('key-input').focus();
}

function useKey(event: SubmitEvent): void {
  event.preventDefault();
  const key = element<HTMLInputElement>('key-input').value.trim();
  if (!key) return;
  functionKey = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  element<HTMLInputElement>('key-input').value = '';
  element('key-form').hidden = true;
  say('');
  report(loadDatasets());
}

function onFilterChange(): void {
  state.view = element<HTMLSelectElement>('filter-view').value as View;
  state.status = element<HTMLSelectElement>('filter-status').value;
  state.label = element<HTMLSelectElement>('filter-label').value;
  showFilters();
  writeAddress(true);
  element('grid-viewport').scrollTop = 0;
  report(loadList());
}

function start(): void {
  element<HTMLFormElement>('key-form').addEventListener('submit', useKey);
  element('dataset').addEventListener('change', (event) =>
    report(openDataset((event.target as HTMLSelectElement).value, true)),
  );
  for (const id of ['filter-view', 'filter-status', 'filter-label']) {
    element(id).addEventListener('change', onFilterChange);
  }
  window.addEventListener('popstate', () => report(applyAddress()));
  document.addEventListener('keydown', onKey);
  const viewport = element('grid-viewport');
  let frame = 0;
  viewport.addEventListener('scroll', () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      renderWindow();
    });
  });
  new ResizeObserver(() => {
    const before = layout.columns;
    computeColumns();
    if (layout.columns !== before) renderAll();
    else renderWindow();
  }).observe(viewport);
  element('grid').addEventListener('click', (event) => {
    const tile = (event.target as HTMLElement).closest<HTMLElement>('.tile');
    if (tile) focusTile(Number(tile.dataset['index']));
  });
  element('train').addEventListener('click', () => report(train()));
  const drop = element('drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    const file = event.dataTransfer?.files[0];
    if (file) report(tryPhoto(file));
  });
  document.addEventListener('paste', (event) => {
    const file = event.clipboardData?.files[0];
    if (file) report(tryPhoto(file));
  });
  element<HTMLInputElement>('try-file').addEventListener('change', (event) => {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) report(tryPhoto(file));
    // The same file chosen again is a new try.
    input.value = '';
  });
  element<HTMLImageElement>('try-preview').addEventListener('error', () => {
    element<HTMLImageElement>('try-preview').hidden = true;
  });
  renderAll();
  report(loadDatasets());
}

start();
