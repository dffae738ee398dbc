// Errors of the monthly report; the codes are listed in docs/errors.md.

import { VigilError } from '../../collectors/errors.js';

/** Base of every report error. */
export class ReportError extends VigilError {
  override readonly name: string = 'ReportError';
}

/** The month (or format, or zone) asked for is not one the report can produce. */
export class ReportRequestError extends ReportError {
  override readonly name = 'ReportRequestError';
  constructor(message: string) {
    super(message, 'VIGIL_REPORT_BAD_REQUEST');
  }
}

/** The data directory holds no usable Vigil database. */
export class ReportDataError extends ReportError {
  override readonly name = 'ReportDataError';
  /** The database path. */
  readonly path: string;
  constructor(path: string, detail: string, options?: ErrorOptions) {
    super(`report: cannot read ${path}: ${detail}`, 'VIGIL_REPORT_NO_DATA', options);
    this.path = path;
  }
}
