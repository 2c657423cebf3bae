import { ISignal, Signal } from '@lumino/signaling';
import { codePointLength, IMessage, ISnapshot, KernelEvent } from './protocol';

/** A message as the panel holds it: the protocol's shape plus stream bookkeeping. */
export interface IChatMessage extends Omit<IMessage, 'created'> {
  created?: string; // a streaming reply's creation time is not sent in `start`
  streaming: boolean;
  seq: number;
}

export type ChatChange =
  | { kind: 'reset' }
  | { kind: 'added'; message: IChatMessage }
  | { kind: 'updated'; message: IChatMessage; appended?: string };

/**
 * One conversation as the kernel told it. Applies protocol events in order; answers
 * `false` from `apply` when a frame does not follow on (a gap, an unknown message, or a
 * `done.length` that disagrees), and then the owner sends `sync` and waits for the snapshot.
 */
export class ChatState {
  constructor(readonly chatId: string) {}

  get messages(): readonly IChatMessage[] {
    return this._messages;
  }
  get changed(): ISignal<this, ChatChange> {
    return this._changed;
  }
  get streamingMessage(): IChatMessage | null {
    return this._messages.find(m => m.streaming) ?? null;
  }

  /** Apply one event about this chat; false means "out of step: sync now". */
  apply(event: KernelEvent): boolean {
    switch (event.type) {
      case 'snapshot':
        this._reset(event);
        return true;
      case 'message':
        this._upsert({ ...event.message, streaming: false, seq: 0 });
        return true;
      case 'start':
        if (this._resyncing) {
          return true;
        }
        this._upsert({
          id: event.message_id,
          role: 'assistant',
          content: '',
          model: event.model,
          streaming: true,
          seq: 0
        });
        return true;
      case 'delta': {
        if (this._resyncing) {
          return true;
        }
        const message = this._find(event.message_id);
        if (!message || event.seq !== message.seq + 1) {
          return this._outOfStep();
        }
        message.seq = event.seq;
        if (event.channel === 'reasoning') {
          message.reasoning = (message.reasoning ?? '') + event.text;
          this._changed.emit({ kind: 'updated', message });
        } else {
          message.content += event.text;
          // Views append the delta: comparing the whole text per delta would be O(length).
          this._changed.emit({ kind: 'updated', message, appended: event.text });
        }
        return true;
      }
      case 'done': {
        if (this._resyncing) {
          return true;
        }
        const message = this._find(event.message_id);
        if (
          !message ||
          event.seq !== message.seq ||
          codePointLength(message.content) !== event.length
        ) {
          return this._outOfStep();
        }
        message.streaming = false;
        message.finish_reason = event.finish_reason;
        this._changed.emit({ kind: 'updated', message });
        return true;
      }
      case 'tool': {
        if (this._resyncing) {
          return true;
        }
        const message = this._find(event.message_id);
        if (!message) {
          return this._outOfStep();
        }
        const calls = message.tool_calls ?? [];
        const index = calls.findIndex(call => call.id === event.call.id);
        message.tool_calls =
          index >= 0
            ? calls.map((call, i) => (i === index ? event.call : call))
            : [...calls, event.call];
        this._changed.emit({ kind: 'updated', message });
        return true;
      }
      case 'error': {
        const message = event.message_id ? this._find(event.message_id) : null;
        if (message) {
          message.error = event.error;
          this._changed.emit({ kind: 'updated', message });
        }
        return true;
      }
      default:
        return true;
    }
  }

  private _outOfStep(): boolean {
    this._resyncing = true;
    return false;
  }

  private _reset(snapshot: ISnapshot): void {
    this._resyncing = false;
    this._messages = snapshot.messages.map(m => ({
      ...m,
      streaming: snapshot.streaming?.message_id === m.id,
      seq: snapshot.streaming?.message_id === m.id ? snapshot.streaming.seq : 0
    }));
    this._changed.emit({ kind: 'reset' });
  }

  private _upsert(message: IChatMessage): void {
    const index = this._messages.findIndex(m => m.id === message.id);
    if (index >= 0) {
      this._messages[index] = message;
      this._changed.emit({ kind: 'updated', message });
    } else {
      this._messages.push(message);
      this._changed.emit({ kind: 'added', message });
    }
  }

  private _find(id: string): IChatMessage | undefined {
    return this._messages.find(m => m.id === id);
  }

  private _messages: IChatMessage[] = [];
  private _resyncing = false;
  private _changed = new Signal<this, ChatChange>(this);
}
