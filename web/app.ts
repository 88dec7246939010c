// The web page's one script: review a dataset (counts, a grid of thumbnails, keyboard relabel and exclusion with
// undo), start a training run and follow it, read the current model's metrics and plots, and try a photo. It talks
// only to this app's /api routes. Everything that comes from the data (labels, file names, reasons) is written with
// textContent, never parsed as HTML; the Content-Security-Policy allows no inline script or style.

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
  relatedTo?: string;
  excluded?: boolean;
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

// The function key: ?code= in the page's address, else one typed into the key form (kept for this tab in
// sessionStorage, which only this origin reads). It goes only to this origin's /api (relative URLs; the page's
// Referrer-Policy is no-referrer), as the x-functions-key header, or as ?code= where an <img> cannot send headers.
const KEY_STORAGE = 'functionKey';
let functionKey = new URLSearchParams(location.search).get('code') ?? sessionStorage.getItem(KEY_STORAGE);

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

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (functionKey) headers.set('x-functions-key', functionKey);
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
    throw new Error(`${response.status}: ${message}`);
  }
  return body as T;
}

function withKey(path: string): string {
  return functionKey ? `${path}${path.includes('?') ? '&' : '?'}code=${encodeURIComponent(functionKey)}` : path;
}

const percent = (value: unknown) => (typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : 'n/a');
const path = (dataset: string, rest = '') => `datasets/${encodeURIComponent(dataset)}${rest}`;

const state = {
  dataset: '',
  labels: [] as string[],
  images: [] as ImageEntry[],
  suspects: new Set<string>(),
  continuationToken: undefined as string | undefined,
  focused: 0,
};

async function loadDatasets(): Promise<void> {
  const { datasets } = await api<{ datasets: string[] }>('datasets');
  const select = element<HTMLSelectElement>('dataset');
  select.replaceChildren(...datasets.map((name) => Object.assign(node('option', name), { value: name })));
  if (datasets.length === 0) {
    say('No datasets yet: upload a folder with icf upload, or start a collection.');
    return;
  }
  await openDataset(datasets[0]!);
}

async function openDataset(dataset: string): Promise<void> {
  state.dataset = dataset;
  await Promise.all([loadSummary(), loadModel()]);
  await loadImages(true);
}

async function loadSummary(): Promise<void> {
  const summary = await api<DatasetSummary>(path(state.dataset));
  const counts = Object.entries(summary.images).map(([status, count]) => `${count} ${status}`);
  element('image-counts').textContent = counts.join(', ');
  state.labels = Object.keys(summary.labels).sort();
  element('label-counts')
    .querySelector('tbody')!
    .replaceChildren(
      ...state.labels.map((label) => {
        const row = node('tr');
        const counts = summary.labels[label]!;
        row.append(node('td', label), node('td', String(counts.train)), node('td', String(counts.test)));
        return row;
      }),
    );
  const filter = element<HTMLSelectElement>('filter-label');
  const chosen = filter.value;
  filter.replaceChildren(
    Object.assign(node('option', 'all'), { value: '' }),
    ...state.labels.map((label) => Object.assign(node('option', label), { value: label })),
  );
  filter.value = state.labels.includes(chosen) ? chosen : '';
  element('label-keys').replaceChildren(
    ...state.labels.slice(0, 9).map((label, i) => node('li', `${i + 1}: ${label}`)),
  );
}

async function loadImages(fresh: boolean): Promise<void> {
  if (fresh) {
    state.images = [];
    state.continuationToken = undefined;
    state.focused = 0;
    state.suspects = new Set();
    if (element<HTMLInputElement>('filter-suspects').checked) {
      try {
        const report = await api<{ suspects: { id: string }[] }>(path(state.dataset, '/suspects'));
        state.suspects = new Set(report.suspects.map((s) => s.id));
      } catch (error) {
        say(`No suspects: ${(error as Error).message}`, true);
      }
    }
  }
  const query = new URLSearchParams({ status: element<HTMLSelectElement>('filter-status').value, pageSize: '200' });
  const label = element<HTMLSelectElement>('filter-label').value;
  if (label) query.set('label', label);
  if (state.continuationToken) query.set('continuationToken', state.continuationToken);
  const page = await api<{ images: ImageEntry[]; continuationToken?: string }>(
    path(state.dataset, `/images?${query.toString()}`),
  );
  state.images.push(...page.images);
  state.continuationToken = page.continuationToken;
  // Suspects first, most suspect as the report ordered them.
  state.images.sort((a, b) => Number(state.suspects.has(b.id)) - Number(state.suspects.has(a.id)));
  element('more').hidden = !state.continuationToken;
  renderGrid();
}

function renderGrid(): void {
  const grid = element('grid');
  grid.replaceChildren(
    ...state.images.map((image, i) => {
      const tile = node('li', undefined, 'tile');
      tile.tabIndex = i === state.focused ? 0 : -1;
      tile.dataset['index'] = String(i);
      tile.classList.toggle('excluded', image.excluded === true);
      tile.classList.toggle('suspect', state.suspects.has(image.id));
      const thumbnail = node('img');
      thumbnail.alt = image.name;
      thumbnail.loading = 'lazy';
      thumbnail.src = withKey(
        `/api/${path(state.dataset, `/images/${encodeURIComponent(image.id)}/thumbnail?size=160`)}`,
      );
      const meta = [image.split, image.excluded ? 'excluded' : undefined, image.reason].filter(Boolean).join(' · ');
      tile.append(
        thumbnail,
        node('div', image.label, 'label'),
        node('div', image.name, 'name'),
        node('div', meta, 'meta'),
      );
      if (image.relatedTo) {
        // A duplicate or near duplicate beside what it duplicates (or the image it was grouped with).
        const related = node('figure', undefined, 'related');
        const original = node('img');
        original.alt = `duplicates ${image.relatedTo}`;
        original.loading = 'lazy';
        original.src = withKey(
          `/api/${path(state.dataset, `/images/${encodeURIComponent(image.relatedTo)}/thumbnail?size=96`)}`,
        );
        related.append(original, node('figcaption', `same as ${image.relatedTo}`));
        tile.append(related);
      }
      tile.addEventListener('click', () => focusTile(i));
      return tile;
    }),
  );
}

function focusTile(index: number): void {
  if (state.images.length === 0) return;
  state.focused = Math.max(0, Math.min(state.images.length - 1, index));
  const tiles = element('grid').children;
  for (let i = 0; i < tiles.length; i++) (tiles[i] as HTMLElement).tabIndex = i === state.focused ? 0 : -1;
  (tiles[state.focused] as HTMLElement | undefined)?.focus();
}

async function editFocused(change: { label?: string; excluded?: boolean }): Promise<void> {
  const image = state.images[state.focused];
  if (!image) return;
  const updated = await api<ImageEntry>(path(state.dataset, `/images/${encodeURIComponent(image.id)}`), {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(change),
  });
  state.images[state.focused] = { ...image, ...updated };
  say(
    change.label ? `${image.name}: now ${change.label}` : `${image.name}: ${change.excluded ? 'excluded' : 'included'}`,
  );
  const index = state.focused;
  renderGrid();
  focusTile(index);
  await loadSummary();
}

async function undo(): Promise<void> {
  await api(path(state.dataset, '/changes/undo'), { method: 'POST' });
  say('Undone');
  const index = state.focused;
  await loadSummary();
  await loadImages(true);
  focusTile(index);
}

function onGridKey(event: KeyboardEvent): void {
  const columns = Math.max(1, Math.round(element('grid').clientWidth / 150));
  const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
  const move = moves[event.key];
  let action: Promise<void> | undefined;
  if (move !== undefined) {
    event.preventDefault();
    focusTile(state.focused + move);
  } else if (/^[1-9]$/.test(event.key) && state.labels[Number(event.key) - 1]) {
    action = editFocused({ label: state.labels[Number(event.key) - 1]! });
  } else if (event.key === 'x') {
    action = editFocused({ excluded: !(state.images[state.focused]?.excluded ?? false) });
  } else if (event.key === 'u') {
    action = undo();
  }
  if (action) report(action);
}

async function train(): Promise<void> {
  const button = element<HTMLButtonElement>('train');
  button.disabled = true;
  const progress = element<HTMLProgressElement>('train-progress');
  progress.hidden = false;
  try {
    let job = await api<TrainJob>(path(state.dataset, '/train'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    while (job.status === 'queued' || job.status === 'running') {
      progress.value = job.progress ?? 0;
      element('train-stage').textContent = `${job.status}: ${job.stage ?? ''}`;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      job = await api<TrainJob>(path(state.dataset, `/jobs/${encodeURIComponent(job.jobId)}`));
    }
    progress.value = 1;
    element('train-stage').textContent =
      job.status === 'succeeded' ? `done. ${job.publishNote ?? ''}` : `${job.status}: ${job.error ?? ''}`;
    await loadModel();
  } finally {
    button.disabled = false;
  }
}

async function loadModel(): Promise<void> {
  const headline = element('model-headline');
  const metricsList = element('model-metrics');
  const plots = element('plots');
  let list: ModelsList;
  try {
    list = await api<ModelsList>(path(state.dataset, '/models'));
  } catch {
    list = { versions: [] };
  }
  element('versions').replaceChildren(
    ...list.versions.map((v) =>
      node('li', `${v.version}${v.serving ? ' (serving)' : ''}: ${percent(v.metrics?.mAP ?? v.metrics?.accuracy)}`),
    ),
  );
  const serving = list.versions.find((v) => v.serving);
  if (!serving) {
    headline.textContent = 'No model yet.';
    metricsList.replaceChildren();
    plots.replaceChildren();
    return;
  }
  const detail = await api<ModelVersion>(path(state.dataset, `/models/${encodeURIComponent(serving.version)}`));
  const metrics = detail.metricsFile ?? {};
  headline.textContent = `Version ${detail.version}: test accuracy ${percent(metrics['accuracy'])}`;
  const learningCurve = metrics['learningCurve'] as { verdict?: string } | undefined;
  const figures: [string, string][] = [
    ['mAP', percent(metrics['mAP'])],
    ['macro F1', percent((metrics['macro'] as { f1?: number } | undefined)?.f1)],
    ...Object.entries((metrics['testMetrics'] as Record<string, number | null> | undefined) ?? {}).map(
      ([name, value]): [string, string] => [name, value === null ? 'n/a' : value.toFixed(3)],
    ),
  ];
  metricsList.replaceChildren(
    ...figures.filter(([, value]) => value !== 'n/a').map(([name, value]) => node('li', `${name}: ${value}`)),
    ...(learningCurve?.verdict ? [node('li', `learning curve: ${learningCurve.verdict}`)] : []),
  );
  plots.replaceChildren(
    ...detail.files
      .filter((file) => file.name.endsWith('.svg'))
      .map((file) => {
        const plot = node('img');
        plot.alt = file.name;
        plot.src = withKey(
          `/api/${path(state.dataset, `/models/${encodeURIComponent(detail.version)}/files/${encodeURIComponent(file.name)}`)}`,
        );
        return plot;
      }),
  );
}

async function tryPhoto(file: Blob): Promise<void> {
  const result = await api<{ predictions: Prediction[] }>(path(state.dataset, '/classify'), {
    method: 'POST',
    headers: { 'content-type': file.type || 'application/octet-stream' },
    body: file,
  });
  element('predictions').replaceChildren(
    ...result.predictions.map((prediction) => {
      const item = node('li', `${prediction.label} ${percent(prediction.probability)}`);
      const bar = node('span', undefined, 'bar');
      bar.style.width = `${Math.round(prediction.probability * 8)}rem`;
      item.append(bar);
      return item;
    }),
  );
}

function report(promise: Promise<unknown>): void {
  promise.catch((error: unknown) => {
    if (error instanceof KeyNeededError) askForKey();
    else say((error as Error).message, true);
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

function start(): void {
  element<HTMLFormElement>('key-form').addEventListener('submit', useKey);
  element('dataset').addEventListener('change', (event) =>
    report(openDataset((event.target as HTMLSelectElement).value)),
  );
  for (const id of ['filter-status', 'filter-label', 'filter-suspects']) {
    element(id).addEventListener('change', () => report(loadImages(true)));
  }
  element('more').addEventListener('click', () => report(loadImages(false)));
  element('grid').addEventListener('keydown', onGridKey);
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
    const file = (event.target as HTMLInputElement).files?.[0];
    if (file) report(tryPhoto(file));
  });
  report(loadDatasets());
}

start();
