// The multi-label folder layout of Microsoft's computer-vision recipes (their multi-label fridge set):
//   DIR/images/<file>   the images
//   DIR/labels.csv      header `filename,labels`, then one row per image: `1.jpg,milk_bottle carton`
// Labels are separated by spaces, so a label itself has none here (checkLabelName would allow them).
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { InvalidArgumentError, messageOf } from '../errors';
import { checkFileName, checkLabelName } from './names';

export const LABELS_CSV = 'labels.csv';
export const IMAGES_FOLDER = 'images';

export interface LabelsCsvRow {
  /** 1-based line of labels.csv where the row starts (the header is line 1). */
  line: number;
  name: string;
  /** In the order of the file; each valid and none repeated. */
  labels: string[];
}

export interface MultiLabelFile {
  path: string;
  name: string;
  labels: string[];
}

export interface MultiLabelFolder {
  /** Every label of labels.csv, sorted, without repeats. */
  labels: string[];
  /** The rows of labels.csv, sorted by file name. */
  files: MultiLabelFile[];
  /** Entries of images/ without a row in labels.csv (hidden ones aside), sorted; folders end with '/'. */
  unlisted: string[];
}

/**
 * Parses labels.csv: optional UTF-8 BOM, CRLF or LF, RFC 4180 quoting; header `filename,labels` (any case); blank
 * lines ignored. Every row names one image (no folders) and at least one label, each valid and none repeated; an
 * image is listed once. Errors name the line.
 */
export function parseLabelsCsv(text: string): LabelsCsvRow[] {
  const records = csvRecords(text.startsWith('\uFEFF') ? text.slice(1) : text).filter(
    (r) => !(r.fields.length === 1 && !r.quoted && r.fields[0]!.trim() === ''),
  );
  const header = records.shift();
  const headerFields = header?.fields.map((f) => f.trim().toLowerCase());
  if (!headerFields || headerFields.length !== 2 || headerFields[0] !== 'filename' || headerFields[1] !== 'labels') {
    const text = header?.fields.join(',');
    const found =
      text === undefined ? 'an empty file' : JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
    throw new InvalidArgumentError(`${LABELS_CSV} must start with the header "filename,labels"; found ${found}`);
  }
  const rows: LabelsCsvRow[] = [];
  const firstLine = new Map<string, number>();
  for (const { line, fields } of records) {
    const at = `${LABELS_CSV} line ${line}`;
    if (fields.length !== 2) {
      throw new InvalidArgumentError(
        `${at}: expected 2 fields (filename,labels), found ${fields.length}; quote a field that contains a comma`,
      );
    }
    const name = fields[0]!.trim();
    if (name === '') throw new InvalidArgumentError(`${at}: the file name is empty`);
    const nameProblem = checkFileName(name);
    if (nameProblem) throw new InvalidArgumentError(`${at}: ${nameProblem}`);
    const earlier = firstLine.get(name);
    if (earlier !== undefined)
      throw new InvalidArgumentError(`${at}: ${name} is listed again (first on line ${earlier})`);
    firstLine.set(name, line);
    const labels = fields[1]!.split(/\s+/u).filter((label) => label !== '');
    if (labels.length === 0)
      throw new InvalidArgumentError(`${at}: ${name} has no labels; every image needs at least one`);
    const seen = new Set<string>();
    for (const label of labels) {
      const problem = checkLabelName(label);
      if (problem) throw new InvalidArgumentError(`${at}: ${problem}`);
      if (seen.has(label)) throw new InvalidArgumentError(`${at}: label "${label}" is repeated`);
      seen.add(label);
    }
    rows.push({ line, name, labels });
  }
  return rows;
}

/** Whether DIR is in the multi-label layout: it has a labels.csv file. */
export async function isMultiLabelFolder(dir: string): Promise<boolean> {
  return (await fs.stat(path.join(dir, LABELS_CSV)).catch(() => undefined))?.isFile() ?? false;
}

/** Reads DIR/labels.csv and checks it against DIR/images/: every listed image must be a file there. */
export async function readMultiLabelFolder(dir: string): Promise<MultiLabelFolder> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, LABELS_CSV), 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${path.join(dir, LABELS_CSV)}: ${messageOf(error)}`);
  }
  const rows = parseLabelsCsv(text);
  if (rows.length === 0) throw new InvalidArgumentError(`${LABELS_CSV} lists no images`);
  const imagesDir = path.join(dir, IMAGES_FOLDER);
  let entries;
  try {
    entries = await fs.readdir(imagesDir, { withFileTypes: true });
  } catch (error) {
    throw new InvalidArgumentError(
      `${dir} has ${LABELS_CSV} but no readable ${IMAGES_FOLDER}/ folder: ${messageOf(error)}`,
    );
  }
  const isFile = new Map<string, boolean>();
  for (const entry of entries) {
    // Symbolic links count as what they point to.
    const file =
      entry.isFile() ||
      (entry.isSymbolicLink() &&
        ((await fs.stat(path.join(imagesDir, entry.name)).catch(() => undefined))?.isFile() ?? false));
    isFile.set(entry.name, file);
  }
  for (const row of rows) {
    const file = isFile.get(row.name);
    if (file === undefined)
      throw new InvalidArgumentError(`${LABELS_CSV} line ${row.line}: ${IMAGES_FOLDER}/${row.name} does not exist`);
    if (!file)
      throw new InvalidArgumentError(`${LABELS_CSV} line ${row.line}: ${IMAGES_FOLDER}/${row.name} is not a file`);
  }
  const listed = new Set(rows.map((r) => r.name));
  const unlisted = entries
    .filter((e) => !e.name.startsWith('.') && !listed.has(e.name))
    .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
    .sort();
  const files = rows
    .map((r) => ({ path: path.join(imagesDir, r.name), name: r.name, labels: r.labels }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const labels = [...new Set(rows.flatMap((r) => r.labels))].sort();
  return { labels, files, unlisted };
}

interface CsvRecord {
  line: number;
  fields: string[];
  /** Whether any field was quoted (a quoted empty field is not a blank line). */
  quoted: boolean;
}

/** RFC 4180 records (CRLF or LF; quoted fields may hold commas, newlines and doubled quotes). */
function csvRecords(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    let quoted = false;
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        quoted = true;
        i++;
        for (;;) {
          if (i >= text.length)
            throw new InvalidArgumentError(`${LABELS_CSV} line ${start}: a quoted field is not closed`);
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw new InvalidArgumentError(
            `${LABELS_CSV} line ${line}: unexpected text after a closing quote; double a quote inside a quoted field ("")`,
          );
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"')
            throw new InvalidArgumentError(
              `${LABELS_CSV} line ${line}: a quote inside an unquoted field; quote the whole field and double the quote ("")`,
            );
          field += text[i];
          i++;
        }
      }
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    // At the end of the text, or at the end of a line.
    if (text[i] === '\r') i++;
    if (text[i] === '\n') {
      i++;
      line++;
    }
    records.push({ line: start, fields, quoted });
  }
  return records;
}
