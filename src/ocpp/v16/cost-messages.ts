/**
 * OCPP 1.6 binding of the display and cost messages: the OCA application note "OCPP & California
 * Pricing Requirements" (section 3, OCPP 1.6 customizations), over the same protocol-neutral
 * display messages service the 2.0.1 binding uses (src/core/display-messages.ts).
 *
 * DataTransfer vendorId org.openchargealliance.costmsg, its `data` a JSON text:
 * - SetUserPrice {idToken, priceText, priceTextExtra?}: the driver's price, shown (as 2.0.1's
 *   personal message) on the EVSE of the driver's running session, else on every screen (the
 *   central system sends it before Authorize.conf, when the EVSE is not known yet);
 * - RunningCost {transactionId, timestamp, meterValue, cost, state, chargingPrice, idlePrice?,
 *   nextPeriod?, triggerMeterValue?, priceText?, priceTextExtra?}: the cost so far on the
 *   transaction's EVSE (as 2.0.1's CostUpdated);
 * - FinalCost {transactionId, cost, priceText, priceTextExtra?, qrCodeText?}: the final cost,
 *   kept as the session's cost (as 2.0.1's Ended totalCost) and shown with its text (and
 *   qrCodeText, for a screen that renders QR codes).
 * Answers: the customization switched off (CustomDisplayCostAndPrice false) is UnknownVendorId
 * (the charger then has no such vendor's extension), an unknown messageId UnknownMessageId, a
 * payload that is not the application note's (or a transaction not known here) Rejected, logged
 * with the reason. 1.6's idTagInfo has no room for a price (the schemas forbid other
 * properties): SetUserPrice is the only way a driver's price arrives.
 *
 * The configuration keys of the customization are defined here too (costKeyDefinitions).
 */
import type { ChargePoint } from '../../core/charge-point.js';
import type { DisplayMessages, MessageContent, MessageFormat } from '../../core/display-messages.js';
import type { EvseId, SessionRecord } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { KeyDefinition } from './key-definition.js';
import type { ChargePointStatus } from './mapping.js';
import type { MeterValueTrigger } from './meter-value-triggers.js';
import type { CsResponse } from './messages.js';
import type { ConfigurationStore } from './store-ports.js';

/** The application note's vendor id. */
export const COST_VENDOR_ID = 'org.openchargealliance.costmsg';

export const COST_MESSAGE_IDS = ['SetUserPrice', 'RunningCost', 'FinalCost'] as const;
export type CostMessageId = (typeof COST_MESSAGE_IDS)[number];

/** The languages a screen's texts are chosen among (SupportedLanguages): the screens render any UTF-8 text. */
export const SUPPORTED_LANGUAGES = ['en', 'de', 'fr', 'es', 'nl'] as const;

// ------------------------------------------------------------------ the payloads

/** A price text in another language (the application note's priceTextExtra: 2.0.1's MessageContentType). */
export interface PriceTextExtra {
  format: MessageFormat;
  language?: string;
  content: string;
}

export interface ChargingPrice {
  kWhPrice?: number;
  hourPrice?: number;
  flatFee?: number;
}

export interface SetUserPrice {
  idToken: string;
  priceText: string;
  priceTextExtra?: PriceTextExtra[];
}

export interface RunningCost {
  transactionId: number;
  timestamp: string;
  /** The energy register, Wh. */
  meterValue: number;
  cost: number;
  state: 'Charging' | 'Idle';
  chargingPrice: ChargingPrice;
  idlePrice?: { graceMinutes?: number; hourPrice?: number };
  nextPeriod?: { atTime: string; chargingPrice?: ChargingPrice; idlePrice?: { graceMinutes?: number; hourPrice?: number } };
  triggerMeterValue?: { atTime?: string; atEnergykWh?: number; atPowerkW?: number; atCPStatus?: ChargePointStatus[] };
  priceText?: string;
  priceTextExtra?: PriceTextExtra[];
}

export interface FinalCost {
  transactionId: number;
  cost: number;
  priceText: string;
  priceTextExtra?: PriceTextExtra[];
  qrCodeText?: string;
}

/** What a parser says: the message, or why it is not the application note's. */
type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isDate = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const FORMATS: readonly MessageFormat[] = ['ASCII', 'HTML', 'URI', 'UTF8'];
const STATUSES: readonly ChargePointStatus[] = ['Available', 'Preparing', 'Charging', 'SuspendedEVSE', 'SuspendedEV', 'Finishing', 'Reserved', 'Unavailable', 'Faulted'];

/** The first problem of an object's fields, by rule: each rule says why its field is wrong, or nothing. */
function problemOf(o: Obj, rules: Record<string, { required?: boolean; check: (v: unknown) => string | undefined }>): string | undefined {
  for (const [field, rule] of Object.entries(rules)) {
    if (o[field] === undefined) {
      if (rule.required) return `${field} is missing`;
      continue;
    }
    const p = rule.check(o[field]);
    if (p) return /^[[.]/.test(p) ? `${field}${p}` : `${field} ${p}`;
  }
  return undefined;
}

const text = (max?: number) => (v: unknown) => (typeof v !== 'string' ? 'is not a string' : max !== undefined && v.length > max ? `is longer than ${max} characters` : undefined);
const number = (v: unknown) => (isNum(v) ? undefined : 'is not a number');
const nonNegative = (v: unknown) => (isNum(v) && v >= 0 ? undefined : 'is not a number ≥ 0');
const dateTime = (v: unknown) => (isDate(v) ? undefined : 'is not a date-time');
const transactionIdRule = { required: true, check: (v: unknown) => (Number.isInteger(v) ? undefined : 'is not an integer') };
const chargingPriceCheck = (v: unknown) => (isObj(v) ? problemOf(v, { kWhPrice: { check: number }, hourPrice: { check: number }, flatFee: { check: number } }) : 'is not an object');
const idlePriceCheck = (v: unknown) => (isObj(v) ? problemOf(v, { graceMinutes: { check: nonNegative }, hourPrice: { check: number } }) : 'is not an object');
const extrasCheck = (v: unknown) => {
  if (!Array.isArray(v)) return 'is not an array';
  for (const [i, x] of v.entries()) {
    if (!isObj(x)) return `[${i}] is not an object`;
    const p = problemOf(x, {
      format: { required: true, check: (f) => (FORMATS.includes(f as MessageFormat) ? undefined : `is not one of ${FORMATS.join(', ')}`) },
      language: { check: text(8) },
      content: { required: true, check: text(512) },
    });
    if (p) return `[${i}].${p}`;
  }
  return undefined;
};

/** The DataTransfer's data as a JSON object, or why not. */
function dataObject(data: string | undefined): Parsed<Obj> {
  if (data === undefined || data.trim() === '') return { ok: false, problem: 'no data' };
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return { ok: false, problem: 'data is not JSON' };
  }
  return isObj(v) ? { ok: true, value: v } : { ok: false, problem: 'data is not a JSON object' };
}

function parse<T>(data: string | undefined, rules: Parameters<typeof problemOf>[1]): Parsed<T> {
  const o = dataObject(data);
  if (!o.ok) return o;
  const problem = problemOf(o.value, rules);
  return problem ? { ok: false, problem } : { ok: true, value: o.value as unknown as T };
}

export const parseSetUserPrice = (data: string | undefined): Parsed<SetUserPrice> => parse(data, {
  idToken: { required: true, check: (v) => (typeof v === 'string' && v.length > 0 && v.length <= 20 ? undefined : 'is not an idTag (1-20 characters)') },
  priceText: { required: true, check: text(512) },
  priceTextExtra: { check: extrasCheck },
});

export const parseRunningCost = (data: string | undefined): Parsed<RunningCost> => parse(data, {
  transactionId: transactionIdRule,
  timestamp: { required: true, check: dateTime },
  meterValue: { required: true, check: (v) => (Number.isInteger(v) && (v as number) >= 0 ? undefined : 'is not an integer ≥ 0') },
  cost: { required: true, check: nonNegative },
  state: { required: true, check: (v) => (v === 'Charging' || v === 'Idle' ? undefined : 'is not Charging or Idle') },
  chargingPrice: { required: true, check: chargingPriceCheck },
  idlePrice: { check: idlePriceCheck },
  nextPeriod: { check: (v) => (isObj(v) ? problemOf(v, { atTime: { required: true, check: dateTime }, chargingPrice: { check: chargingPriceCheck }, idlePrice: { check: idlePriceCheck } }) : 'is not an object') },
  triggerMeterValue: {
    check: (v) => (isObj(v) ? problemOf(v, {
      atTime: { check: dateTime },
      atEnergykWh: { check: nonNegative },
      atPowerkW: { check: nonNegative },
      atCPStatus: { check: (x) => (Array.isArray(x) && x.every((st) => STATUSES.includes(st as ChargePointStatus)) ? undefined : `is not a list of ${STATUSES.join(', ')}`) },
    }) : 'is not an object'),
  },
  priceText: { check: text(512) },
  priceTextExtra: { check: extrasCheck },
});

export const parseFinalCost = (data: string | undefined): Parsed<FinalCost> => parse(data, {
  transactionId: transactionIdRule,
  cost: { required: true, check: nonNegative },
  priceText: { required: true, check: text(512) },
  priceTextExtra: { check: extrasCheck },
  qrCodeText: { check: text(512) },
});

// ------------------------------------------------------------------ languages

/**
 * The text a screen shows of a price text and its translations: the one in the station's
 * Language when CustomMultiLanguageMessages is on and the screen renders its format, else
 * priceText (in the station's Language).
 */
export function chooseText(priceText: string, extras: readonly PriceTextExtra[] | undefined, o: { language: string; multiLanguage: boolean; formats: readonly MessageFormat[] }): MessageContent {
  const wanted = o.language.toLowerCase();
  const extra = o.multiLanguage ? extras?.find((x) => x.language?.toLowerCase() === wanted && o.formats.includes(x.format)) : undefined;
  if (extra) return { format: extra.format, language: extra.language!, content: extra.content };
  return { format: 'UTF8', ...(o.language ? { language: o.language } : {}), content: priceText };
}

// ------------------------------------------------------------------ the handler

/**
 * What the handler uses of the binding's context (context.ts IncomingContext, which holds more;
 * named here, not imported, as configuration.ts imports this file's keys).
 */
export interface CostContext {
  chargePoint: Pick<ChargePoint, 'evseIds' | 'session'>;
  settings: ConfigurationStore;
  log: Log;
  link: {
    localIdOf(transactionId: number): string | undefined;
    sessionRecord?(localId: string): SessionRecord | undefined;
    recordCentralCost?(localId: string, totalCost: number): void;
    /** RunningCost's triggerMeterValue for the session on an EVSE (none: its triggers dropped). */
    setMeterValueTriggers?(evseId: EvseId, localId: string, trigger: MeterValueTrigger | undefined): void;
  };
  features?: { displayMessages?: DisplayMessages };
}

/** Whether the customization is on (CustomDisplayCostAndPrice). */
export const costMessagesEnabled = (ctx: Pick<CostContext, 'settings'>): boolean => ctx.settings.get('CustomDisplayCostAndPrice') === 'true';

/** A transaction of this charger by its 1.6 transactionId: its session's local id and EVSE, running or ended. */
function transactionOf(ctx: CostContext, transactionId: number): { localId: string; evseId: EvseId; running: boolean } | undefined {
  const localId = ctx.link.localIdOf(transactionId);
  if (localId === undefined) return undefined;
  const running = ctx.chargePoint.evseIds.find((id) => ctx.chargePoint.session(id)?.localId === localId);
  if (running !== undefined) return { localId, evseId: running, running: true };
  const record = ctx.link.sessionRecord?.(localId);
  return record ? { localId, evseId: record.evseId, running: false } : undefined;
}

/** The EVSE whose running session is the idTag's, if any (idTags are CiString20: compared without case). */
function evseOfIdTag(ctx: CostContext, idTag: string): EvseId | undefined {
  const wanted = idTag.toLowerCase();
  return ctx.chargePoint.evseIds.find((id) => {
    const s = ctx.chargePoint.session(id);
    return s !== undefined && ctx.link.sessionRecord?.(s.localId)?.idTag?.toLowerCase() === wanted;
  });
}

/** RunningCost's triggerMeterValue in the charger's units (Wh, W, epoch ms). */
export function meterValueTrigger(t: RunningCost['triggerMeterValue']): MeterValueTrigger | undefined {
  if (!t) return undefined;
  return {
    ...(t.atTime !== undefined ? { atTime: Date.parse(t.atTime) } : {}),
    ...(t.atEnergykWh !== undefined ? { atEnergyWh: Math.round(t.atEnergykWh * 1000) } : {}),
    ...(t.atPowerkW !== undefined ? { atPowerW: t.atPowerkW * 1000 } : {}),
    ...(t.atCPStatus?.length ? { atStatuses: t.atCPStatus } : {}),
  };
}

/** DataTransfer under the application note's vendor id. */
export function costMessage(req: { messageId?: string; data?: string }, ctx: CostContext): CsResponse<'DataTransfer'> {
  if (!costMessagesEnabled(ctx)) return { status: 'UnknownVendorId' };
  const messageId = req.messageId as CostMessageId | undefined;
  if (messageId === undefined || !COST_MESSAGE_IDS.includes(messageId)) return { status: 'UnknownMessageId' };
  const log = ctx.log.child({ vendorId: COST_VENDOR_ID, messageId });
  const refuse = (why: string): CsResponse<'DataTransfer'> => {
    log.warn('cost message rejected', { why });
    return { status: 'Rejected' };
  };
  const service = ctx.features?.displayMessages;
  const show = (priceText: string, extras: PriceTextExtra[] | undefined, evseId?: EvseId, qrCode?: string) => service?.showPersonal(chooseText(priceText, extras, {
    language: ctx.settings.get('Language') ?? '', multiLanguage: ctx.settings.get('CustomMultiLanguageMessages') === 'true', formats: service.capabilities.formats,
  }), undefined, evseId, qrCode !== undefined ? { qrCode } : {});

  switch (messageId) {
    case 'SetUserPrice': {
      const m = parseSetUserPrice(req.data);
      if (!m.ok) return refuse(m.problem);
      const evseId = evseOfIdTag(ctx, m.value.idToken);
      show(m.value.priceText, m.value.priceTextExtra, evseId);
      log.info('user price shown', { evseId: evseId ?? 'every' });
      return { status: 'Accepted' };
    }
    case 'RunningCost': {
      const m = parseRunningCost(req.data);
      if (!m.ok) return refuse(m.problem);
      const tx = transactionOf(ctx, m.value.transactionId);
      if (!tx?.running) return refuse(`transaction ${m.value.transactionId} is not running here`);
      service?.costUpdated({ sessionId: tx.localId, evseId: tx.evseId, totalCost: m.value.cost, final: false });
      ctx.link.setMeterValueTriggers?.(tx.evseId, tx.localId, meterValueTrigger(m.value.triggerMeterValue));
      if (m.value.priceText !== undefined) show(m.value.priceText, m.value.priceTextExtra, tx.evseId);
      log.debug('running cost shown', { evseId: tx.evseId, state: m.value.state });
      return { status: 'Accepted' };
    }
    case 'FinalCost': {
      const m = parseFinalCost(req.data);
      if (!m.ok) return refuse(m.problem);
      const tx = transactionOf(ctx, m.value.transactionId);
      if (!tx) return refuse(`transaction ${m.value.transactionId} is not known here`);
      ctx.link.recordCentralCost?.(tx.localId, m.value.cost);
      service?.costUpdated({ sessionId: tx.localId, evseId: tx.evseId, totalCost: m.value.cost, final: true });
      show(m.value.priceText, m.value.priceTextExtra, tx.evseId, m.value.qrCodeText);
      log.info('final cost kept', { evseId: tx.evseId, qrCode: m.value.qrCodeText !== undefined });
      return { status: 'Accepted' };
    }
  }
}

// ------------------------------------------------------------------ configuration keys

const OFFSET = /^[+-]?([01]\d|2[0-3]):[0-5]\d$/;

const offsetProblem = (allowEmpty: boolean) => (v: string) =>
  (allowEmpty && v === '') || OFFSET.test(v) ? undefined : 'expected a time offset such as +01:00 or -05:00';

/** A JSON object of the key, or why not; '' is "none". */
function jsonKeyProblem(check: (o: Obj) => string | undefined): (v: string) => string | undefined {
  return (v) => {
    if (v.trim() === '') return undefined;
    const o = dataObject(v);
    return o.ok ? check(o.value) : `expected a JSON object (${o.problem})`;
  };
}

const languageProblem = (v: unknown) => (typeof v === 'string' && (SUPPORTED_LANGUAGES as readonly string[]).includes(v) ? undefined : `is not one of ${SUPPORTED_LANGUAGES.join(', ')}`);

/** DefaultPrice: {priceText, priceTextOffline?, chargingPrice?}. */
export const defaultPriceProblem = jsonKeyProblem((o) => problemOf(o, {
  priceText: { required: true, check: (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'is not a text') },
  priceTextOffline: { check: (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'is not a text') },
  chargingPrice: { check: chargingPriceCheck },
}));

/** One language's default price text ("DefaultPriceText,<language>"): {priceText, priceTextOffline?}. */
const priceTextRules = {
  priceText: { required: true, check: (v: unknown) => (typeof v === 'string' && v.length > 0 ? undefined : 'is not a text') },
  priceTextOffline: { check: (v: unknown) => (typeof v === 'string' && v.length > 0 ? undefined : 'is not a text') },
};

/** DefaultPriceText: {priceTexts: [{priceText, priceTextOffline?, language}]}, one per supported language. */
export const defaultPriceTextProblem = jsonKeyProblem((o) => {
  if (!Array.isArray(o.priceTexts)) return 'priceTexts is not an array';
  for (const [i, x] of (o.priceTexts as unknown[]).entries()) {
    if (!isObj(x)) return `priceTexts[${i}] is not an object`;
    const p = problemOf(x, { ...priceTextRules, language: { required: true, check: languageProblem } });
    if (p) return `priceTexts[${i}].${p}`;
  }
  return undefined;
});

const rw = (key: string, type: KeyDefinition['type'], def: string, extra: Partial<KeyDefinition> = {}): KeyDefinition => ({ key, readonly: false, type, default: def, ...extra });
const ro = (key: string, type: KeyDefinition['type'], def: string): KeyDefinition => ({ key, readonly: true, type, default: def });

/**
 * The application note's configuration keys. CustomDisplayCostAndPrice is read-write here (true:
 * the charger has the customization) so that an installation's config or the central system can
 * switch it off; CustomIdleFeeAfterStop is false (a transaction ends with its StopTransaction;
 * no ConnectorUnplugged is sent).
 */
export function costKeyDefinitions(): KeyDefinition[] {
  return [
    rw('CustomDisplayCostAndPrice', 'bool', 'true'),
    rw('DefaultPrice', 'string', '', { validate: defaultPriceProblem }),
    rw('DefaultPriceText', 'string', '', { validate: defaultPriceTextProblem }),
    rw('TimeOffset', 'string', '+00:00', { validate: offsetProblem(false) }),
    rw('NextTimeOffsetTransitionDateTime', 'string', '', { validate: (v) => (v === '' || isDate(v) ? undefined : 'expected a date-time (RFC 3339)') }),
    rw('TimeOffsetNextTransition', 'string', '', { validate: offsetProblem(true) }),
    ro('CustomIdleFeeAfterStop', 'bool', 'false'),
    ro('SupportedLanguages', 'csl', SUPPORTED_LANGUAGES.join(',')),
    ro('CustomMultiLanguageMessages', 'bool', 'true'),
    rw('Language', 'string', 'en', { validate: (v) => { const p = languageProblem(v); return p ? `${v} ${p}` : undefined; } }),
  ];
}

/**
 * The display time offset now: once NextTimeOffsetTransitionDateTime has passed, TimeOffset
 * becomes TimeOffsetNextTransition (stored, the transition cleared), as the application note's
 * daylight-saving switch says.
 */
export function timeOffsetNow(settings: ConfigurationStore, now: number): string {
  const at = settings.get('NextTimeOffsetTransitionDateTime');
  const next = settings.get('TimeOffsetNextTransition');
  if (at && next && OFFSET.test(next) && isDate(at) && Date.parse(at) <= now) {
    settings.set('TimeOffset', next);
    settings.set('NextTimeOffsetTransitionDateTime', '');
    settings.set('TimeOffsetNextTransition', '');
  }
  return settings.get('TimeOffset') ?? '+00:00';
}

/**
 * The default price an idle screen shows (section 3.1.1): DefaultPriceText's entry in the
 * station's Language, else DefaultPrice; its priceTextOffline while the central system is not
 * reachable (priceText when it has none). Nothing while the customization is off or no default
 * price is set.
 */
export function defaultPriceShown(settings: ConfigurationStore, online: boolean): MessageContent | undefined {
  if (settings.get('CustomDisplayCostAndPrice') !== 'true') return undefined;
  const language = settings.get('Language') ?? '';
  const pick = (o: { priceText?: unknown; priceTextOffline?: unknown }): string | undefined =>
    (!online && typeof o.priceTextOffline === 'string' ? o.priceTextOffline : typeof o.priceText === 'string' ? o.priceText : undefined);
  const texts = settings.get('DefaultPriceText');
  if (texts && texts.trim() && !defaultPriceTextProblem(texts) && settings.get('CustomMultiLanguageMessages') === 'true') {
    const entry = (JSON.parse(texts) as { priceTexts: Obj[] }).priceTexts.find((t) => t.language === language);
    const content = entry && pick(entry);
    if (content) return { format: 'UTF8', language, content };
  }
  const price = settings.get('DefaultPrice');
  if (!price || !price.trim() || defaultPriceProblem(price)) return undefined;
  const content = pick(JSON.parse(price) as Obj);
  return content ? { format: 'UTF8', ...(language ? { language } : {}), content } : undefined;
}

/** The keys a default price shown depends on. */
export const DEFAULT_PRICE_KEYS: ReadonlySet<string> = new Set(['CustomDisplayCostAndPrice', 'DefaultPrice', 'DefaultPriceText', 'Language']);

/** "DefaultPriceText,<language>" (ChangeConfiguration of one language's text): the language, or undefined for another key. */
export function defaultPriceTextLanguage(key: string): string | undefined {
  const m = /^DefaultPriceText,(.+)$/i.exec(key);
  return m ? m[1]!.trim() : undefined;
}

/**
 * ChangeConfiguration of "DefaultPriceText,<language>" with {priceText, priceTextOffline?}: that
 * language's entry of DefaultPriceText replaced. An unsupported language is NotSupported; a
 * value that is not such an object, or one that would make DefaultPriceText longer than a key's
 * 500 characters, Rejected.
 */
export function changeDefaultPriceText(settings: ConfigurationStore, language: string, value: string): 'Accepted' | 'Rejected' | 'NotSupported' {
  if (languageProblem(language)) return 'NotSupported';
  const o = dataObject(value);
  if (!o.ok || problemOf(o.value, priceTextRules)) return 'Rejected';
  const current = settings.get('DefaultPriceText');
  const texts = current && !defaultPriceTextProblem(current) && current.trim() ? (JSON.parse(current) as { priceTexts: Obj[] }).priceTexts : [];
  const entry = { priceText: o.value.priceText, ...(o.value.priceTextOffline !== undefined ? { priceTextOffline: o.value.priceTextOffline } : {}), language };
  const merged = JSON.stringify({ priceTexts: [...texts.filter((t) => t.language !== language), entry] });
  // A key's value is at most 500 characters (1.6 KeyValue.value CiString500).
  if (merged.length > 500) return 'Rejected';
  settings.set('DefaultPriceText', merged);
  return 'Accepted';
}

/** GetConfiguration of "DefaultPriceText,<language>": that language's entry as JSON, or undefined when there is none. */
export function defaultPriceTextOf(settings: ConfigurationStore, language: string): string | undefined {
  const current = settings.get('DefaultPriceText');
  if (!current || !current.trim() || defaultPriceTextProblem(current)) return undefined;
  const entry = (JSON.parse(current) as { priceTexts: Obj[] }).priceTexts.find((t) => t.language === language);
  if (!entry) return undefined;
  const { language: _language, ...rest } = entry;
  return JSON.stringify(rest);
}
