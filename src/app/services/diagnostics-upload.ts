/**
 * GetDiagnostics (OCPP 1.6 §5.9, §4.4): build the bundle, answer with its file name, then upload
 * it in the background with DiagnosticsStatusNotification Uploading → Uploaded, or UploadFailed
 * once `retries` more attempts `retryInterval` seconds apart have failed.
 *
 * GetLog (OCPP 2.0.1 N01) goes the same way through requestLog: the diagnostics bundle
 * (DiagnosticsLog) or the security log (SecurityLog), LogStatusNotification Uploading →
 * Uploaded or UploadFailure with the requestId; a new GetLog while one uploads cancels it
 * (AcceptedCanceled, and the cancelled one's requestId told AcceptedCanceled).
 */
import type { Clock, Timer } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { DiagnosticsService } from '../../ocpp/v16/features.js';
import type { CentralSystemCalls, DiagnosticsStatus } from '../../ocpp/v16/messages.js';
import { upload } from './file-transfer.js';

export const DIAGNOSTICS_DEFAULTS = { retries: 2, retryIntervalS: 60 };

/** The statuses of a 2.0.1 log upload (UploadLogStatusEnumType, those this station reports). */
export type LogUploadStatus = 'Uploading' | 'Uploaded' | 'UploadFailure' | 'AcceptedCanceled';

export interface LogRequest {
  requestId: number;
  logType: 'DiagnosticsLog' | 'SecurityLog';
  location: string;
  window: { startMs?: number; stopMs?: number };
  retries?: number;
  retryIntervalS?: number;
}

export interface DiagnosticsUploaderOptions {
  build(window: { startMs?: number; stopMs?: number }): { fileName: string; data: Buffer };
  /** The security log (security events) in a window, for GetLog SecurityLog. */
  buildSecurityLog?(window: { startMs?: number; stopMs?: number }): { fileName: string; data: Buffer };
  notify(status: DiagnosticsStatus): Promise<void>;
  /** LogStatusNotification (2.0.1). */
  notifyLog?(status: LogUploadStatus, requestId: number): Promise<void>;
  clock: Pick<Clock, 'now' | 'setTimeout'>;
  log: Log;
  /** Replaceable for tests. */
  upload?: typeof upload;
}

export class DiagnosticsUploader implements DiagnosticsService {
  private uploading = 0;
  private stopped = false;
  private readonly timers = new Set<Timer>();
  /** The 2.0.1 log upload running, if any. */
  private currentLog?: { requestId: number; cancelled: boolean };

  constructor(private readonly o: DiagnosticsUploaderOptions) {}

  request(req: CentralSystemCalls['GetDiagnostics'][0]): string | undefined {
    const window = {
      ...(req.startTime ? { startMs: Date.parse(req.startTime) } : {}),
      ...(req.stopTime ? { stopMs: Date.parse(req.stopTime) } : {}),
    };
    let bundle: { fileName: string; data: Buffer };
    try {
      bundle = this.o.build(window);
    } catch (err) {
      this.o.log.error('diagnostics bundle could not be built', { err });
      return undefined;
    }
    this.o.log.info('diagnostics requested', { fileName: bundle.fileName, bytes: bundle.data.length, location: redactUrl(req.location) });
    void this.run(req, bundle);
    return bundle.fileName;
  }

  /** GetLog: Accepted (AcceptedCanceled when it cancels one uploading) with the file name, or Rejected. */
  requestLog(req: LogRequest): { status: 'Accepted' | 'AcceptedCanceled' | 'Rejected'; fileName?: string } {
    const build = req.logType === 'SecurityLog' ? this.o.buildSecurityLog : this.o.build;
    if (!build || !this.o.notifyLog) return { status: 'Rejected' };
    let bundle: { fileName: string; data: Buffer };
    try {
      bundle = build.call(this.o, req.window);
    } catch (err) {
      this.o.log.error('log could not be built', { logType: req.logType, err });
      return { status: 'Rejected' };
    }
    const previous = this.currentLog;
    if (previous) {
      previous.cancelled = true;
      this.o.log.info('log upload cancelled by a new request', { requestId: previous.requestId, by: req.requestId });
      void this.o.notifyLog('AcceptedCanceled', previous.requestId).catch(() => undefined);
    }
    const job = { requestId: req.requestId, cancelled: false };
    this.currentLog = job;
    this.o.log.info('log requested', { requestId: req.requestId, logType: req.logType, fileName: bundle.fileName, bytes: bundle.data.length, location: redactUrl(req.location) });
    void this.runLog(req, bundle, job);
    return { status: previous ? 'AcceptedCanceled' : 'Accepted', fileName: bundle.fileName };
  }

  /** What a triggered LogStatusNotification reports: the upload running with its requestId, else Idle. */
  logStatusNow(): { status: 'Idle' | 'Uploading'; requestId?: number } {
    return this.currentLog ? { status: 'Uploading', requestId: this.currentLog.requestId } : { status: 'Idle' };
  }

  private async runLog(req: LogRequest, bundle: { fileName: string; data: Buffer }, job: { requestId: number; cancelled: boolean }): Promise<void> {
    const notify = (status: LogUploadStatus) => (job.cancelled || this.stopped ? Promise.resolve() : this.o.notifyLog!(status, req.requestId).catch(() => undefined));
    const attempts = 1 + Math.max(0, req.retries ?? DIAGNOSTICS_DEFAULTS.retries);
    const intervalMs = Math.max(0, req.retryIntervalS ?? DIAGNOSTICS_DEFAULTS.retryIntervalS) * 1000;
    let uploaded = false;
    try {
      await notify('Uploading');
      for (let attempt = 1; attempt <= attempts && !job.cancelled && !this.stopped; attempt++) {
        try {
          await (this.o.upload ?? upload)(req.location, bundle.fileName, bundle.data);
          uploaded = true;
          this.o.log.info('log uploaded', { requestId: req.requestId, fileName: bundle.fileName, attempt });
          break;
        } catch (err) {
          this.o.log.warn('log upload failed', { requestId: req.requestId, attempt, of: attempts, err });
          if (attempt < attempts) await this.wait(intervalMs);
        }
      }
      await notify(uploaded ? 'Uploaded' : 'UploadFailure');
    } finally {
      if (this.currentLog === job) this.currentLog = undefined;
    }
  }

  status(): DiagnosticsStatus {
    return this.uploading > 0 ? 'Uploading' : 'Idle';
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.o.clock.setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async run(req: CentralSystemCalls['GetDiagnostics'][0], bundle: { fileName: string; data: Buffer }): Promise<void> {
    const attempts = 1 + Math.max(0, req.retries ?? DIAGNOSTICS_DEFAULTS.retries);
    const intervalMs = Math.max(0, req.retryInterval ?? DIAGNOSTICS_DEFAULTS.retryIntervalS) * 1000;
    this.uploading++;
    try {
      await this.o.notify('Uploading');
      for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
        try {
          await (this.o.upload ?? upload)(req.location, bundle.fileName, bundle.data);
          this.o.log.info('diagnostics uploaded', { fileName: bundle.fileName, attempt });
          this.uploading--;
          await this.o.notify('Uploaded');
          return;
        } catch (err) {
          this.o.log.warn('diagnostics upload failed', { fileName: bundle.fileName, attempt, of: attempts, err });
          if (attempt < attempts) await this.wait(intervalMs);
        }
      }
      this.uploading--;
      if (!this.stopped) await this.o.notify('UploadFailed');
    } catch (err) {
      this.o.log.error('diagnostics upload aborted', { err });
    }
  }
}

/** A location without its credentials, for logs. */
export function redactUrl(location: string): string {
  try {
    const u = new URL(location);
    if (u.username || u.password) {
      u.username = '(redacted)';
      u.password = '';
    }
    u.hash = '';
    return u.toString();
  } catch {
    return '(unreadable)';
  }
}
