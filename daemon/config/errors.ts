import { VigilError } from '../../collectors/errors.js';

/** The configuration (file, flags or both) is invalid; `errors` holds every problem found. */
export class ConfigError extends VigilError {
  override readonly name = 'ConfigError';
  /** One message per problem, each prefixed by its key path or flag (or a YAML line/column). */
  readonly errors: string[];
  /** The file the configuration came from, as given; undefined when only flags were used. */
  readonly source: string | undefined;

  constructor(errors: readonly string[], source?: string) {
    const where = source === undefined ? 'invalid configuration' : `invalid configuration in ${source}`;
    const count = errors.length === 1 ? '1 error' : `${errors.length} errors`;
    super(`${where} (${count}):\n${errors.map((e) => `  ${e}`).join('\n')}`, 'VIGIL_CONFIG_INVALID');
    this.errors = [...errors];
    this.source = source;
  }
}
