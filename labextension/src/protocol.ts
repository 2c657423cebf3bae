/**
 * Protocol v1 message shapes (docs/protocol.md), the contract between kernel and panel.
 */

export const PROTOCOL_VERSION = 1;
export const COMM_TARGET = 'jupyter_deltachat';
export const BOOTSTRAP_CODE =
  'import jupyter_deltachat.kernel as _dc; _dc.load(); del _dc';
export const INSTALL_COMMAND = 'pip install jupyter-deltachat';

export type Role = 'user' | 'assistant' | 'system';
export type FinishReason = 'stop' | 'length' | 'cancelled' | 'error';
export type Channel = 'content' | 'reasoning';

export interface IErrorInfo {
  code: string;
  message: string;
  provider?: string;
  status?: number;
  retryable?: boolean;
}

export interface IMessage {
  id: string;
  role: Role;
  content: string;
  model?: string;
  created?: string;
  finish_reason?: FinishReason;
  error?: IErrorInfo | null;
  reasoning?: string | null;
}

export interface IModelInfo {
  id: string;
  provider: string;
  label: string;
  configured: boolean;
  source: 'builtin' | 'kernel';
}

export interface IChatInfo {
  chat_id: string;
  title: string;
  updated: string;
  message_count: number;
  streaming: boolean;
}

export interface IReady {
  type: 'ready';
  protocol: number;
  version: string;
  models: IModelInfo[];
  default_model: string;
  chats: IChatInfo[];
}
export interface IMessageEvent {
  type: 'message';
  chat_id: string;
  message: IMessage;
}
export interface IStart {
  type: 'start';
  chat_id: string;
  request_id?: string;
  message_id: string;
  model: string;
}
export interface IDelta {
  type: 'delta';
  chat_id: string;
  message_id: string;
  seq: number;
  text: string;
  channel?: Channel;
}
export interface IDone {
  type: 'done';
  chat_id: string;
  message_id: string;
  seq: number;
  finish_reason: FinishReason;
  length: number;
  usage?: { input_tokens?: number; output_tokens?: number };
}
export interface IErrorEvent {
  type: 'error';
  chat_id?: string;
  message_id?: string;
  request_id?: string;
  error: IErrorInfo;
}
export interface ISnapshot {
  type: 'snapshot';
  chat_id: string;
  messages: IMessage[];
  streaming: { message_id: string; seq: number } | null;
}
export interface IModels {
  type: 'models';
  models: IModelInfo[];
  default_model: string;
}

export type KernelEvent =
  | IReady
  | IMessageEvent
  | IStart
  | IDelta
  | IDone
  | IErrorEvent
  | ISnapshot
  | IModels;

/** Code points, as the kernel counts `done.length`. */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= text.length) {
      n++;
    } else {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
      }
      n++;
    }
  }
  return n;
}
