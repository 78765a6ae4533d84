/**
 * OCPP 2.0.1 Advanced UI, display part (O01-O06), over the core's protocol-neutral display
 * messages (src/core/display-messages.ts): SetDisplayMessage (O01/O02/O06, replacing an id,
 * refused with the status the core gives), GetDisplayMessages answered Accepted/Unknown and then
 * NotifyDisplayMessages in parts (tbc on all but the last, O03), ClearDisplayMessage (O05), and
 * DisplayMessageCtrlr: Enabled, the live count of DisplayMessages. The station's transactionId is
 * the session's local id (link.ts transactionIdFor).
 */
import type { ChargePoint } from '../../core/charge-point.js';
import type { DisplayMessage, DisplayMessages, MessageContent, SetMessageStatus } from '../../core/display-messages.js';
import { isoMs } from '../../core/clock.js';
import type { Log } from '../../lib/log.js';
import { valueOf, type DeviceModel, type VariableStore } from './device-model.js';
import type { CsmsCalls, MessageContentType, MessageInfoType, NotifyDisplayMessagesRequest, TransactionEventResponse } from './messages.js';

/** What these handlers use of the binding's context (incoming.ts V201Context, which holds more). */
export interface DisplayMessageContext {
  model: DeviceModel;
  store: VariableStore;
  chargePoint: Pick<ChargePoint, 'evseIds' | 'session'>;
  features?: { displayMessages?: DisplayMessages };
  log: Log;
  link: { send(action: string, request: unknown): Promise<unknown> };
}

/** statusInfo.reasonCode (≤ 20 characters) of each refusal; additionalInfo says why in words. */
const REASON_CODES: Readonly<Record<SetMessageStatus, string>> = {
  Accepted: 'NoError', NotSupportedMessageFormat: 'UnsupportedParam', NotSupportedPriority: 'UnsupportedParam',
  NotSupportedState: 'UnsupportedParam', UnknownTransaction: 'TxNotFound', Rejected: 'InvalidValue',
};

/** Messages per NotifyDisplayMessages: a report of more is split, tbc on all but the last. */
export const DISPLAY_MESSAGES_PER_NOTIFY = 4;

type Handler<A extends 'SetDisplayMessage' | 'GetDisplayMessages' | 'ClearDisplayMessage' | 'CostUpdated'> = (req: CsmsCalls[A][0], ctx: DisplayMessageContext) => CsmsCalls[A][1];

/** DisplayMessageCtrlr.Enabled (absent from the model: false). */
function enabled(ctx: DisplayMessageContext): boolean {
  const dv = ctx.model.variables.find((v) => v.component === 'DisplayMessageCtrlr' && v.variable === 'Enabled' && v.evseId === undefined);
  return dv !== undefined && valueOf(ctx.store, dv) === 'true';
}

const sessionOpen = (ctx: DisplayMessageContext) => (localId: string): boolean =>
  ctx.chargePoint.evseIds.some((id) => ctx.chargePoint.session(id)?.localId === localId);

/** 2.0.1's MessageContent as the core's. */
export const fromV201Content = (c: MessageContentType): MessageContent => ({ format: c.format, ...(c.language !== undefined ? { language: c.language } : {}), content: c.content });

/** A core message as 2.0.1's MessageInfo (NotifyDisplayMessages). */
export function toV201MessageInfo(m: DisplayMessage): MessageInfoType {
  return {
    id: m.id, priority: m.priority,
    ...(m.state !== undefined ? { state: m.state } : {}),
    ...(m.startsAt !== undefined ? { startDateTime: isoMs(m.startsAt) } : {}),
    ...(m.endsAt !== undefined ? { endDateTime: isoMs(m.endsAt) } : {}),
    ...(m.sessionId !== undefined ? { transactionId: m.sessionId } : {}),
    message: { format: m.message.format, ...(m.message.language !== undefined ? { language: m.message.language } : {}), content: m.message.content },
  };
}

/** NotifyDisplayMessages parts of a report: DISPLAY_MESSAGES_PER_NOTIFY each, tbc on all but the last. */
export function notifyDisplayMessages(requestId: number, messages: readonly DisplayMessage[]): NotifyDisplayMessagesRequest[] {
  const parts: NotifyDisplayMessagesRequest[] = [];
  for (let i = 0; i < messages.length; i += DISPLAY_MESSAGES_PER_NOTIFY) {
    const last = i + DISPLAY_MESSAGES_PER_NOTIFY >= messages.length;
    parts.push({ requestId, messageInfo: messages.slice(i, i + DISPLAY_MESSAGES_PER_NOTIFY).map(toV201MessageInfo), ...(last ? {} : { tbc: true }) });
  }
  return parts;
}

export const displayMessageHandlers: {
  SetDisplayMessage: Handler<'SetDisplayMessage'>;
  GetDisplayMessages: Handler<'GetDisplayMessages'>;
  ClearDisplayMessage: Handler<'ClearDisplayMessage'>;
  CostUpdated: Handler<'CostUpdated'>;
} = {
  // O01/O02/O06: the core decides; an unreadable date or a disabled controller is Rejected.
  SetDisplayMessage: (req, ctx) => {
    const service = ctx.features?.displayMessages;
    const m = req.message;
    const refuse = (reasonCode: string, why: string) => {
      ctx.log.info('display message refused', { messageId: m.id, status: 'Rejected', why });
      return { status: 'Rejected' as const, statusInfo: { reasonCode, additionalInfo: why } };
    };
    if (!service) return refuse('UnsupportedRequest', 'the station has no display messages');
    if (!enabled(ctx)) return refuse('UnsupportedRequest', 'DisplayMessageCtrlr.Enabled is false');
    const startsAt = m.startDateTime === undefined ? undefined : Date.parse(m.startDateTime);
    const endsAt = m.endDateTime === undefined ? undefined : Date.parse(m.endDateTime);
    if (Number.isNaN(startsAt) || Number.isNaN(endsAt)) return refuse('InvalidValue', 'startDateTime or endDateTime unreadable');
    const outcome = service.set({
      id: m.id, priority: m.priority,
      ...(m.state !== undefined ? { state: m.state } : {}),
      ...(startsAt !== undefined ? { startsAt } : {}),
      ...(endsAt !== undefined ? { endsAt } : {}),
      ...(m.transactionId !== undefined ? { sessionId: m.transactionId } : {}),
      message: fromV201Content(m.message),
    }, sessionOpen(ctx));
    return outcome.status === 'Accepted' || !outcome.reason
      ? { status: outcome.status }
      : { status: outcome.status, statusInfo: { reasonCode: REASON_CODES[outcome.status], additionalInfo: outcome.reason.slice(0, 512) } };
  },

  // O03/O04: Unknown when nothing matches; else Accepted, then the matching messages in NotifyDisplayMessages parts.
  GetDisplayMessages: (req, ctx) => {
    const service = ctx.features?.displayMessages;
    if (!service || !enabled(ctx)) return { status: 'Unknown' };
    const found = service.list({ ...(req.id ? { ids: req.id } : {}), ...(req.priority ? { priority: req.priority } : {}), ...(req.state ? { state: req.state } : {}) });
    if (found.length === 0) return { status: 'Unknown' };
    const parts = notifyDisplayMessages(req.requestId, found);
    setImmediate(() => void (async () => {
      for (const part of parts) {
        try {
          await ctx.link.send('NotifyDisplayMessages', part);
        } catch (err) {
          ctx.log.warn('NotifyDisplayMessages not delivered', { requestId: req.requestId, err });
          return;
        }
      }
    })());
    return { status: 'Accepted' };
  },

  // O05
  ClearDisplayMessage: (req, ctx) => ({ status: ctx.features?.displayMessages?.clear(req.id) ? 'Accepted' : 'Unknown' }),

  // I04 (cost during a transaction): shown on the transaction's EVSE; a transaction not running is only logged (the answer has no status).
  CostUpdated: (req, ctx) => {
    const evseId = ctx.chargePoint.evseIds.find((id) => ctx.chargePoint.session(id)?.localId === req.transactionId);
    if (evseId === undefined) ctx.log.info('CostUpdated for a transaction not running here', { totalCost: req.totalCost });
    else ctx.features?.displayMessages?.costUpdated({ sessionId: req.transactionId, evseId, totalCost: req.totalCost, final: false });
    return {};
  },
};

/**
 * What a TransactionEvent's answer tells the driver (I02, I03, C01's personalMessage): the
 * personal message of the token (Started's idTokenInfo) or an updated one on the session's EVSE,
 * and the cost so far; the Ended event's totalCost is final and becomes the session's cost.
 */
export function transactionAnswerShown(
  res: TransactionEventResponse, session: { localId: string; evseId: number; ended: boolean },
  d: { displayMessages?: DisplayMessages; recordCentralCost?: (localId: string, totalCost: number) => void },
): void {
  const personal = res.updatedPersonalMessage ?? res.idTokenInfo?.personalMessage;
  if (personal) d.displayMessages?.showPersonal(fromV201Content(personal), undefined, session.evseId);
  if (res.totalCost === undefined) return;
  d.displayMessages?.costUpdated({ sessionId: session.localId, evseId: session.evseId, totalCost: res.totalCost, final: session.ended });
  if (session.ended) d.recordCentralCost?.(session.localId, res.totalCost);
}

/** DisplayMessageCtrlr.DisplayMessages' Actual is how many messages are set now, SupportedFormats what the screen renders (from the service). */
export function displayMessageVariables(store: VariableStore, features: { displayMessages?: DisplayMessages } | undefined): VariableStore {
  const service = features?.displayMessages;
  if (!service) return store;
  const is = (k: Parameters<VariableStore['get']>[0], variable: string) => k.attribute === 'Actual' && k.evseId === undefined && !k.componentInstance && !k.variableInstance
    && k.component.toLowerCase() === 'displaymessagectrlr' && k.variable.toLowerCase() === variable;
  return {
    // SupportedFormats: what the charger's screen renders (the capabilities the service refuses by).
    get: (k) => (is(k, 'displaymessages') ? String(service.list().length) : is(k, 'supportedformats') ? service.capabilities.formats.join(',') : store.get(k)),
    set: (k, value, meta) => store.set(k, value, meta),
  };
}
