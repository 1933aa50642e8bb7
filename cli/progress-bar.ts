/**
 * A one-line progress bar redrawn in place on a terminal stream (stderr).
 *
 * @packageDocumentation
 */

const CLEAR_LINE = '\r\x1b[K';
const MAX_BAR_WIDTH = 30;

/** The first `width` characters of `text`. */
function truncate(text: string, width: number): string {
  return Array.from(text).slice(0, Math.max(0, width)).join('');
}

/**
 * Draws `<label> [█████░░░░░]  42%` on one line of a terminal and redraws it
 * as the fraction grows; {@link ProgressBar.clear} wipes it so that later
 * output starts on a clean line. Only meant for a TTY: callers decide what,
 * if anything, to print elsewhere.
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  #drawn = '';

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  /**
   * Shows `label` with a bar at `fraction` (0 to 1), or the label alone when
   * the fraction is unknown. Writes nothing when the line would not change,
   * so it can be called for every progress event.
   */
  update(label: string, fraction?: number): void {
    const line = this.#render(label, fraction);
    if (line === this.#drawn) return;
    this.#stream.write(`${CLEAR_LINE}${line}`);
    this.#drawn = line;
  }

  /** Erases the bar, if one is drawn. */
  clear(): void {
    if (this.#drawn === '') return;
    this.#stream.write(CLEAR_LINE);
    this.#drawn = '';
  }

  #render(label: string, fraction: number | undefined): string {
    // A pseudo-terminal with no size set reports 0 columns.
    const columns = this.#stream.columns || 80;
    // One column is left free: writing the last column makes some terminals wrap.
    const room = columns - 1;
    if (fraction === undefined) return truncate(label, room);
    const clamped = Math.min(1, Math.max(0, fraction));
    const percent = `${Math.floor(clamped * 100)}%`.padStart(4);
    const barWidth = Math.min(MAX_BAR_WIDTH, room - label.length - percent.length - 4);
    if (barWidth < 5) return `${truncate(label, room - percent.length - 1)} ${percent}`;
    const filled = Math.round(clamped * barWidth);
    return `${label} [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ${percent}`;
  }
}
