/**
 * UpdateFirmware (OCPP 1.6 §5.19, §4.5). At retrieveDate the image is downloaded (HTTP(S) or
 * FTP) with retries; a configured SHA-256 (or a "#sha256=<hex>" fragment on the location) must
 * match, or the download counts as failed: an image that fails its checksum is never run.
 * Once Downloaded, idle connectors become Unavailable at once and busy ones when their
 * transaction ends; when none runs, "installing" runs the operator's configured command with
 * the image path (Installing → Installed, or InstallationFailed), and availability is restored.
 * The job is kept in the store, so a restart resumes it; a restart during Installing (the
 * command rebooted the controller) reports Installed when the firmware version changed.
 *
 * A signed job (OCPP 2.0.1 L01, updateSigned) carries the image's signature and the
 * certificate it was made with (the binding has checked that certificate against the
 * Manufacturer root): after the download the signature is verified over the image,
 * SignatureVerified, or InvalidSignature with the InvalidFirmwareSignature security event and
 * nothing installed; InstallScheduled until installDateTime; FirmwareUpdated once Installed.
 * Its statuses carry its requestId.
 */
import { spawn } from 'node:child_process';
import { createHash, verify, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChargePoint } from '../../core/charge-point.js';
import type { Clock, EvseId, Timer } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { FirmwareService } from '../../ocpp/v16/features.js';
import type { CentralSystemCalls, FirmwareStatus } from '../../ocpp/v16/messages.js';
import { download } from './file-transfer.js';
import { redactUrl } from './diagnostics-upload.js';

export const FIRMWARE_DEFAULTS = { retries: 2, retryIntervalS: 60, installTimeoutMs: 30 * 60_000 };
const JOB_KEY = 'evse-edge.Firmware.Job';
/** Longest single wait for retrieveDate; later dates are reached in steps. */
const MAX_WAIT_MS = 6 * 3_600_000;

export interface FirmwareConfig {
  /** argv of the operator's install command; the image path is appended (and in EVSE_EDGE_FIRMWARE_IMAGE). */
  installCommand?: readonly string[];
  /** Expected SHA-256 of the image, hex. */
  sha256?: string;
  /** Refuse an image when no checksum is known (neither configured nor in the location). */
  requireChecksum: boolean;
  downloadDir: string;
  installTimeoutMs: number;
}

/** The statuses of an update in both versions (1.6's, and 2.0.1's signed-update steps). */
export type UpdateStatus = FirmwareStatus | 'SignatureVerified' | 'InvalidSignature' | 'InstallScheduled' | 'DownloadScheduled';

/** A signed update (2.0.1 UpdateFirmware). */
export interface SignedUpdateRequest {
  requestId: number;
  location: string;
  retrieveAt: number;
  installAt?: number;
  retries?: number;
  retryIntervalS?: number;
  /** Base64 signature of the image (SHA-256 with the signing certificate's key). */
  signature?: string;
  /** PEM certificate whose key signed the image. */
  signingCertificate?: string;
}

interface Job {
  location: string;
  requestId?: number;
  signature?: string;
  signingCertificate?: string;
  installAt?: number;
  retrieveAt: number;
  retries: number;
  retryIntervalS: number;
  phase: 'scheduled' | 'downloaded' | 'installing';
  imagePath?: string;
  sha256?: string;
  versionBefore: string;
}

export interface FirmwareUpdaterOptions {
  config: FirmwareConfig;
  /** Persisted values (the OCPP settings store, under an evse-edge.* key). */
  store: { get(key: string): string | undefined; set(key: string, value: string): void };
  chargePoint: ChargePoint;
  /** The availability a connector should return to after installing. */
  savedAvailability(evseId: EvseId): 'Operative' | 'Inoperative';
  /** A status to report; `requestId` for a 2.0.1 job. */
  notify(status: UpdateStatus, requestId?: number): Promise<void>;
  /** Raise a security event (InvalidFirmwareSignature, FirmwareUpdated). */
  securityEvent?(type: string, techInfo?: string): void;
  clock: Pick<Clock, 'now' | 'setTimeout'>;
  log: Log;
  firmwareVersion: string;
  /** How an image is fetched (default: download with the system's CAs only). */
  download?: (location: string) => Promise<Buffer>;
}

export function sha256Of(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The checksum a location carries in its fragment (#sha256=<hex>), if any. */
export function locationChecksum(location: string): string | undefined {
  const m = /[#&]sha256=([0-9a-fA-F]{64})\b/.exec(location);
  return m?.[1]?.toLowerCase();
}

export class FirmwareUpdater implements FirmwareService {
  private current: UpdateStatus = 'Idle';
  private timer?: Timer;
  private stopped = false;
  private running = false;
  private wake?: () => void;
  private readonly offStopped: () => void;

  constructor(private readonly o: FirmwareUpdaterOptions) {
    const onStopped = () => this.wake?.();
    o.chargePoint.on('session-stopped', onStopped);
    this.offStopped = () => o.chargePoint.off('session-stopped', onStopped);
  }

  status(): FirmwareStatus {
    const c = this.current;
    if (c === 'SignatureVerified' || c === 'InstallScheduled') return 'Downloaded';
    if (c === 'DownloadScheduled') return 'Idle';
    return c === 'Installed' || c === 'InstallationFailed' || c === 'DownloadFailed' || c === 'InvalidSignature' ? 'Idle' : c;
  }

  /** What a 2.0.1 triggered FirmwareStatusNotification reports: the update in progress with its requestId, else Idle. */
  statusNow(): { status: UpdateStatus; requestId?: number } {
    const job = this.load();
    const c = this.current;
    const over = c === 'Installed' || c === 'InstallationFailed' || c === 'DownloadFailed' || c === 'InvalidSignature';
    if (!job || over) return { status: 'Idle' };
    return { status: c === 'Idle' ? 'DownloadScheduled' : c, ...(job.requestId !== undefined ? { requestId: job.requestId } : {}) };
  }

  /** Resume a job left by the last run. */
  start(): void {
    const job = this.load();
    if (!job) return;
    if (job.phase === 'installing') {
      const ok = this.o.firmwareVersion !== job.versionBefore;
      this.o.log.warn('restarted while installing firmware', { versionBefore: job.versionBefore, versionNow: this.o.firmwareVersion });
      this.finish(job, ok ? 'Installed' : 'InstallationFailed');
      return;
    }
    this.o.log.info('resuming a firmware update', { phase: job.phase, retrieveAt: new Date(job.retrieveAt).toISOString() });
    if (job.phase === 'downloaded') void this.install(job);
    else this.schedule(job);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.offStopped();
    this.wake?.();
  }

  update(req: CentralSystemCalls['UpdateFirmware'][0]): void {
    const retrieveAt = Date.parse(req.retrieveDate);
    const job: Job = {
      location: req.location, retrieveAt: Number.isFinite(retrieveAt) ? retrieveAt : this.o.clock.now(),
      retries: Math.max(0, req.retries ?? FIRMWARE_DEFAULTS.retries), retryIntervalS: Math.max(0, req.retryInterval ?? FIRMWARE_DEFAULTS.retryIntervalS),
      phase: 'scheduled', versionBefore: this.o.firmwareVersion,
    };
    if (this.running) {
      this.o.log.warn('firmware update requested while another runs: ignored', { location: redactUrl(req.location) });
      return;
    }
    this.save(job);
    this.o.log.info('firmware update scheduled', { location: redactUrl(req.location), retrieveDate: new Date(job.retrieveAt).toISOString() });
    this.schedule(job);
  }

  /**
   * A 2.0.1 UpdateFirmware: Accepted; AcceptedCanceled when it replaces one waiting to download
   * or install; Rejected while one downloads or installs.
   */
  updateSigned(req: SignedUpdateRequest): 'Accepted' | 'AcceptedCanceled' | 'Rejected' {
    if (this.running) {
      this.o.log.warn('firmware update requested while another downloads or installs: rejected', { requestId: req.requestId });
      return 'Rejected';
    }
    const previous = this.load();
    if (previous) {
      this.timer?.cancel();
      if (previous.imagePath) rmSync(previous.imagePath, { force: true });
      this.o.log.info('firmware update replaced by a new one', { requestId: previous.requestId, by: req.requestId });
    }
    const job: Job = {
      location: req.location, retrieveAt: Number.isFinite(req.retrieveAt) ? req.retrieveAt : this.o.clock.now(),
      retries: Math.max(0, req.retries ?? FIRMWARE_DEFAULTS.retries), retryIntervalS: Math.max(0, req.retryIntervalS ?? FIRMWARE_DEFAULTS.retryIntervalS),
      phase: 'scheduled', versionBefore: this.o.firmwareVersion, requestId: req.requestId,
      ...(req.signature !== undefined ? { signature: req.signature } : {}),
      ...(req.signingCertificate !== undefined ? { signingCertificate: req.signingCertificate } : {}),
      ...(req.installAt !== undefined && Number.isFinite(req.installAt) ? { installAt: req.installAt } : {}),
    };
    this.save(job);
    this.o.log.info('firmware update scheduled', { requestId: req.requestId, location: redactUrl(req.location), retrieveDate: new Date(job.retrieveAt).toISOString(), signed: job.signature !== undefined });
    this.schedule(job);
    return previous ? 'AcceptedCanceled' : 'Accepted';
  }

  /** Why `image` does not verify against the job's signature, or undefined when it does. */
  private signatureProblem(job: Job, image: Buffer): string | undefined {
    if (!job.signature || !job.signingCertificate) return 'no signature or signing certificate';
    try {
      const key = new X509Certificate(job.signingCertificate).publicKey;
      return verify('sha256', image, key, Buffer.from(job.signature, 'base64')) ? undefined : 'the signature does not match the image';
    } catch (err) {
      return `the signature cannot be checked: ${(err as Error).message}`;
    }
  }

  private load(): Job | undefined {
    const raw = this.o.store.get(JOB_KEY);
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as Job;
    } catch {
      return undefined;
    }
  }

  private save(job: Job | undefined): void {
    this.o.store.set(JOB_KEY, job ? JSON.stringify(job) : '');
  }

  private schedule(job: Job): void {
    this.timer?.cancel();
    const waitMs = job.retrieveAt - this.o.clock.now();
    if (waitMs > MAX_WAIT_MS) {
      this.timer = this.o.clock.setTimeout(() => this.schedule(job), MAX_WAIT_MS);
      return;
    }
    this.timer = this.o.clock.setTimeout(() => void this.run(job).catch((err) => this.o.log.error('firmware update failed', { err })), Math.max(0, waitMs));
  }

  private async set(status: UpdateStatus, job?: Job): Promise<void> {
    this.current = status;
    this.o.log.info('firmware status', { status, ...(job?.requestId !== undefined ? { requestId: job.requestId } : {}) });
    await this.o.notify(status, job?.requestId).catch(() => undefined);
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = this.o.clock.setTimeout(resolve, ms);
    });
  }

  private expectedChecksum(job: Job): string | undefined {
    return locationChecksum(job.location) ?? this.o.config.sha256?.toLowerCase();
  }

  private async run(job: Job): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    const expected = this.expectedChecksum(job);
    let image: Buffer | undefined;
    for (let attempt = 1; attempt <= job.retries + 1 && !this.stopped; attempt++) {
      await this.set('Downloading', job);
      try {
        const data = await (this.o.download ?? download)(job.location);
        // A signed image is checked by its signature: that is the checksum that counts.
        if (expected === undefined && this.o.config.requireChecksum && !job.signature) throw new Error('no checksum known for the image (firmware.requireChecksum)');
        const actual = sha256Of(data);
        if (expected !== undefined && actual !== expected) throw new Error(`checksum mismatch: got sha256 ${actual}`);
        image = data;
        break;
      } catch (err) {
        this.o.log.warn('firmware download failed', { attempt, of: job.retries + 1, err });
        if (attempt <= job.retries) await this.wait(job.retryIntervalS * 1000);
      }
    }
    if (this.stopped) return;
    if (!image) {
      this.running = false;
      this.finish(job, 'DownloadFailed');
      return;
    }
    if (job.signature !== undefined || job.signingCertificate !== undefined) {
      await this.set('Downloaded', job);
      const problem = this.signatureProblem(job, image);
      if (problem) {
        this.o.log.error('firmware signature refused: not installed', { requestId: job.requestId, problem });
        this.o.securityEvent?.('InvalidFirmwareSignature', problem);
        this.running = false;
        this.finish(job, 'InvalidSignature');
        return;
      }
      await this.set('SignatureVerified', job);
    }
    mkdirSync(this.o.config.downloadDir, { recursive: true });
    const imagePath = join(this.o.config.downloadDir, `firmware-${this.o.clock.now()}.bin`);
    writeFileSync(imagePath, image, { mode: 0o600 });
    const next: Job = { ...job, phase: 'downloaded', imagePath, sha256: sha256Of(image) };
    this.save(next);
    if (job.signature === undefined && job.signingCertificate === undefined) await this.set('Downloaded', job);
    this.running = false;
    await this.install(next);
  }

  private async install(job: Job): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    const cp = this.o.chargePoint;
    if (job.installAt !== undefined && job.installAt > this.o.clock.now()) {
      await this.set('InstallScheduled', job);
      await this.wait(job.installAt - this.o.clock.now());
      if (this.stopped) return;
    }
    // Idle connectors now; busy ones when their transaction ends (ChangeAvailability's Scheduled).
    for (const id of cp.evseIds) cp.changeAvailability(id, 'Inoperative');
    while (cp.hasActiveSession() && !this.stopped) {
      this.o.log.info('firmware waits for running transactions to end');
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    if (this.stopped) return;
    let problem: string | undefined;
    try {
      const data = readFileSync(job.imagePath!);
      // Check again what is on disk now: never run an image that fails its checksum.
      if (job.sha256 && sha256Of(data) !== job.sha256) problem = 'the image on disk no longer matches its checksum';
      if (!this.o.config.installCommand?.length) problem ??= 'no firmware.installCommand configured';
    } catch (err) {
      problem = `image unreadable: ${(err as Error).message}`;
    }
    if (problem) {
      this.o.log.error('firmware not installed', { problem });
      this.running = false;
      this.finish(job, 'InstallationFailed');
      return;
    }
    this.save({ ...job, phase: 'installing' });
    await this.set('Installing', job);
    const ok = await this.runCommand(job.imagePath!);
    this.running = false;
    this.finish(job, ok ? 'Installed' : 'InstallationFailed');
  }

  private runCommand(imagePath: string): Promise<boolean> {
    const [cmd, ...args] = this.o.config.installCommand!;
    return new Promise((resolve) => {
      const child = spawn(cmd!, [...args, imagePath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EVSE_EDGE_FIRMWARE_IMAGE: imagePath } });
      let output = '';
      const keep = (d: Buffer) => (output = (output + String(d)).slice(-4_000));
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      const t = setTimeout(() => child.kill('SIGKILL'), this.o.config.installTimeoutMs);
      child.on('error', (err) => {
        clearTimeout(t);
        this.o.log.error('firmware install command could not run', { err });
        resolve(false);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(t);
        if (code === 0) this.o.log.info('firmware install command succeeded');
        else this.o.log.error('firmware install command failed', { code, signal, output });
        resolve(code === 0);
      });
    });
  }

  private finish(job: Job, status: UpdateStatus): void {
    this.save(undefined);
    if (job.imagePath) rmSync(job.imagePath, { force: true });
    const cp = this.o.chargePoint;
    if (job.phase !== 'scheduled') {
      for (const id of cp.evseIds) cp.changeAvailability(id, this.o.savedAvailability(id));
    }
    if (status === 'Installed' && job.requestId !== undefined) this.o.securityEvent?.('FirmwareUpdated', `firmware ${this.o.firmwareVersion}`);
    void this.set(status, job);
  }
}
