/**
 * Keyed tables for the `enrich` processor, read from local files: CSV (RFC 4180: a header row,
 * fields optionally in double quotes, `""` for a quote inside quotes, CRLF or LF line ends),
 * JSON (an array of row objects, or one object mapping each key to its row) or JSON Lines (one row
 * object per line). A row is a map of column names to JSON values; CSV cells are strings unless
 * their column is listed as a number column.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JsonValue } from '../../src/pdata.js';

export type Row = { [column: string]: JsonValue };
export type Table = Map<string, Row>;
export type FileFormat = 'csv' | 'json' | 'jsonl';

/** The format a file name implies: `.csv`, `.json`, `.jsonl` / `.ndjson`; undefined otherwise. */
export function formatOf(file: string): FileFormat | undefined {
  switch (path.extname(file).toLowerCase()) {
    case '.csv':
      return 'csv';
    case '.json':
      return 'json';
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    default:
      return undefined;
  }
}

/** Splits CSV text into rows of fields (RFC 4180). Throws with the line number on an unclosed quote. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let line = 1;
  let quoted = false;
  let quoteLine = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // byte order mark
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      line++;
    } else field += c;
  }
  if (quoted) throw new Error(`line ${quoteLine}: a quoted field is not closed`);
  row.push(field);
  if (row.length > 1 || row[0] !== '') rows.push(row);
  return rows;
}

function keyString(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return typeof v === 'object' ? undefined : String(v);
}

/**
 * Builds a table from the text of a file. `keyField` is the column or field holding each row's
 * key (in a JSON object map, the map's keys are used when rows lack it). Rows without a key are
 * an error naming the row, as are malformed files. Later rows with the same key win.
 */
export function parseTable(text: string, format: FileFormat, keyField: string, numberColumns: readonly string[] = []): Table {
  const table: Table = new Map();
  const add = (row: unknown, where: string, fallbackKey?: string) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error(`${where}: a row must be an object`);
    const r = row as Row;
    const key = keyString(r[keyField]) ?? fallbackKey;
    if (key === undefined) throw new Error(`${where}: no ${keyField} (the key field)`);
    table.set(key, r);
  };
  switch (format) {
    case 'csv': {
      const rows = parseCsv(text);
      if (rows.length === 0) return table;
      const header = rows[0]!.map((h) => h.trim());
      if (!header.includes(keyField)) throw new Error(`the header row has no ${keyField} column (columns: ${header.join(', ')})`);
      const numbers = new Set(numberColumns);
      for (let r = 1; r < rows.length; r++) {
        const cells = rows[r]!;
        if (cells.length !== header.length) throw new Error(`row ${r + 1}: ${cells.length} fields, the header has ${header.length}`);
        const row: Row = {};
        header.forEach((h, c) => {
          const cell = cells[c]!;
          if (numbers.has(h) && cell !== '') {
            const n = Number(cell);
            if (!Number.isFinite(n)) throw new Error(`row ${r + 1}: ${h} is not a number: ${JSON.stringify(cell)}`);
            row[h] = n;
          } else row[h] = cell;
        });
        add(row, `row ${r + 1}`);
      }
      return table;
    }
    case 'json': {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (err) {
        throw new Error(`not JSON: ${(err as Error).message}`);
      }
      if (Array.isArray(v)) v.forEach((row, i) => add(row, `element ${i}`));
      else if (typeof v === 'object' && v !== null) for (const [k, row] of Object.entries(v)) add(row, `entry ${JSON.stringify(k)}`, k);
      else throw new Error('must hold an array of rows or an object of rows by key');
      return table;
    }
    case 'jsonl': {
      const lines = text.split('\n');
      lines.forEach((l, i) => {
        if (!l.trim()) return;
        let row: unknown;
        try {
          row = JSON.parse(l);
        } catch (err) {
          throw new Error(`line ${i + 1}: not JSON: ${(err as Error).message}`);
        }
        add(row, `line ${i + 1}`);
      });
      return table;
    }
  }
}

/** Reads and parses a table file; errors name the file. */
export function loadTableFile(file: string, format: FileFormat, keyField: string, numberColumns: readonly string[]): Table {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  try {
    return parseTable(text, format, keyField, numberColumns);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}
