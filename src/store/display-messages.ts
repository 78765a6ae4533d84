import type { DisplayMessage, DisplayMessageStore, MessageFormat, MessagePriority, MessageState } from '../core/display-messages.js';
import { statementsFor } from './statement-cache.js';
import type { SqliteDatabase } from './database.js';

interface Row {
  message_id: number;
  priority: MessagePriority;
  state: MessageState | null;
  starts_at: number | null;
  ends_at: number | null;
  session_id: string | null;
  format: MessageFormat;
  language: string | null;
  content: string;
  set_at: number;
}

/** The display messages of one charge point; they survive restarts. */
export class SqliteDisplayMessages implements DisplayMessageStore {
  private readonly q;

  constructor(db: SqliteDatabase, private readonly chargePointId: string) {
    this.q = statementsFor(db, SqliteDisplayMessages, () => ({
      all: db.prepare(`SELECT * FROM display_messages WHERE charge_point_id = ? ORDER BY message_id`),
      put: db.prepare(`INSERT INTO display_messages (charge_point_id, message_id, priority, state, starts_at, ends_at, session_id, format, language, content, set_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (charge_point_id, message_id) DO UPDATE SET priority = excluded.priority, state = excluded.state,
        starts_at = excluded.starts_at, ends_at = excluded.ends_at, session_id = excluded.session_id, format = excluded.format,
        language = excluded.language, content = excluded.content, set_at = excluded.set_at`),
      remove: db.prepare(`DELETE FROM display_messages WHERE charge_point_id = ? AND message_id = ?`),
    }));
  }

  all(): DisplayMessage[] {
    return (this.q.all.all(this.chargePointId) as Row[]).map((r) => ({
      id: r.message_id, priority: r.priority,
      ...(r.state !== null ? { state: r.state } : {}),
      ...(r.starts_at !== null ? { startsAt: r.starts_at } : {}),
      ...(r.ends_at !== null ? { endsAt: r.ends_at } : {}),
      ...(r.session_id !== null ? { sessionId: r.session_id } : {}),
      message: { format: r.format, ...(r.language !== null ? { language: r.language } : {}), content: r.content },
      setAt: r.set_at,
    }));
  }

  put(m: DisplayMessage): void {
    this.q.put.run(this.chargePointId, m.id, m.priority, m.state ?? null, m.startsAt ?? null, m.endsAt ?? null, m.sessionId ?? null,
      m.message.format, m.message.language ?? null, m.message.content, m.setAt);
  }

  remove(id: number): void {
    this.q.remove.run(this.chargePointId, id);
  }
}
