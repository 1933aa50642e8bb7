/**
 * Download progress reports, throttled so that a fast connection does not
 * call back thousands of times a second.
 *
 * @packageDocumentation
 */

/** How far a model download has come. */
export interface DownloadProgress {
  /**
   * Bytes of the file on disk so far, a resumed part included. It starts
   * again from zero when a server ignores a request to resume.
   */
  readonly downloadedBytes: number;
  /** Size of the whole file, when the server or the hub said it. */
  readonly totalBytes: number | undefined;
  /** `downloadedBytes / totalBytes` in [0, 1], when the total is known. */
  readonly fraction: number | undefined;
}

/** Receives {@link DownloadProgress} reports. */
export type DownloadProgressCallback = (progress: DownloadProgress) => void;

/** The shortest time between two reports, so at most ten a second. */
const REPORT_INTERVAL_MS = 100;

/** Passes progress on to a callback at most every {@link REPORT_INTERVAL_MS}, plus every forced report. */
export class ProgressThrottle {
  private lastReportAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly callback: DownloadProgressCallback | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Reports unless one was made less than the interval ago; `force` reports anyway (for the last one). */
  update(downloadedBytes: number, totalBytes: number | undefined, force = false): void {
    if (this.callback === undefined) return;
    const now = this.now();
    if (!force && now - this.lastReportAt < REPORT_INTERVAL_MS) return;
    this.lastReportAt = now;
    const fraction =
      totalBytes === undefined ? undefined : totalBytes === 0 ? 1 : Math.min(1, downloadedBytes / totalBytes);
    this.callback({ downloadedBytes, totalBytes, fraction });
  }
}
