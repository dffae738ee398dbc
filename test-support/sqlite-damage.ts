// Damaged SQLite files for the integrity tests: one page of a chosen b-tree made unreadable, the
// way a torn or misdirected write leaves it, in a real vigil.db.

import { closeSync, openSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';

/** The leaf pages of b-tree `name` (a table or an index) in key order, from SQLite's dbstat table. */
export function leafPages(file: string, name: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY path").pluck().all(name) as number[]);
  } finally {
    db.close();
  }
}

/**
 * Points the first two cells of leaf page `pageno` past the end of the page (what a misdirected
 * write leaves: `quick_check` names the page, a read of those cells fails with SQLITE_CORRUPT).
 * The file must be closed (its WAL checkpointed: Storage.close() does it).
 */
export function damagePage(file: string, pageno: number): void {
  const db = new Database(file, { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  // A leaf page's header is 8 bytes; the cell pointer array (2 bytes a cell) follows it.
  const cellPointers = (pageno - 1) * pageSize + (pageno === 1 ? 100 : 0) + 8;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.from([0xff, 0xf0, 0xff, 0xf0]), 0, 4, cellPointers);
  } finally {
    closeSync(fd);
  }
}

/** Damages the leaf in the middle of b-tree `name` (neither end: what only a full check reads); returns its page number. */
export function damageMiddleLeaf(file: string, name: string): number {
  const leaves = leafPages(file, name);
  if (leaves.length < 5) throw new Error(`${name} has only ${leaves.length} leaf pages: write more rows first`);
  const page = leaves[Math.floor(leaves.length / 2)]!;
  damagePage(file, page);
  return page;
}
