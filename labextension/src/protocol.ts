/**
 * Protocol v1 message shapes (docs/protocol.md), the contract between kernel and panel;
 * the mirror of `jupyter_deltachat/protocol.py`.
 */

export const PROTOCOL_VERSION = 1;
export const COMM_TARGET = 'jupyter_deltachat';
export const BOOTSTRAP_CODE =
  'import jupyter_deltachat.kernel as _dc; _dc.load(); del _dc';
export const INSTALL_COMMAND = 'pip install jupyter-deltachat';

export type Role = 'user' | 'assistant' | 'system' | 'tool';
export type FinishReason =
  | 'stop'
  | 'length'
  | 'cancelled'
  | 'error'
  | 'interrupted'
  | 'max_steps';
export type Channel = 'content' | 'reasoning';
export type ToolChoice = 'none' | 'all' | string[];
export type ToolStatus =
  | 'awaiting_approval'
  | 'running'
  | 'done'
  | 'error'
  | 'denied'
  | 'cancelled';
export type Decision = 'allow' | 'deny' | 'allow_chat';
export type ContextKind = 'variable' | 'error' | 'cell' | 'notebook' | 'text';

// Shapes. `tests/test_protocol_schema.py` checks every interface of this file against
// `jupyter_deltachat/protocol.schema.json` and the kernel's classes: same messages, same
// fields, same optional marks. Keep one interface per message type or shape.

export interface IErrorInfo {
  code: string;
  message: string;
  retryable: boolean;
  provider?: string;
  status?: number;
  traceback?: string;
}

export interface IAttachment {
  name: string;
  media_type: string;
  data: string;
}

// One `send.context` entry; which fields apply depends on `kind` (docs/context.md).
export interface IContextRef {
  kind: ContextKind;
  name?: string;
  source?: string;
  cell_type?: string;
  outputs?: Record<string, unknown>[];
  execution_count?: number;
  label?: string;
  path?: string;
  cells?: IContextRef[];
  text?: string;
}

// What the model got for one ref: `text` exactly, `chars` its length before the cut.
export interface IContextItem {
  kind: ContextKind;
  label: string;
  text: string;
  chars: number;
  truncated: boolean;
}

export interface IVariableInfo {
  name: string;
  type: string;
  summary: string;
}

export interface IMessage {
  id: string;
  role: Role;
  content: string;
  created: string;
  model?: string;
  finish_reason?: FinishReason;
  error?: IErrorInfo;
  reasoning?: string;
  attachments?: IAttachment[];
  context?: IContextItem[];
  tool_calls?: IToolCall[];
}

export interface IChatConfig {
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
  max_steps?: number;
}

export interface IModelInfo {
  id: string;
  provider: string;
  label: string;
  configured: boolean;
  source: 'builtin' | 'kernel';
  provider_label?: string;
  asks_for?: 'key' | 'url';
}

export interface IChatInfo {
  chat_id: string;
  title: string;
  updated: string;
  message_count: number;
  streaming: boolean;
  path: string | null;
  persisted: boolean;
}

export interface IUsage {
  input_tokens: number;
  output_tokens: number;
}

export interface IStreamingMark {
  message_id: string;
  seq: number;
}

export interface IToolInfo {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  approval: 'ask' | 'never';
  source: 'builtin' | 'kernel';
}

export interface IToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  status: ToolStatus;
  at: number;
  result?: string;
  truncated?: boolean;
  outputs?: IAttachment[];
  provider?: string;
}

// Frontend to kernel.

export interface IHello {
  type: 'hello';
  protocol: number;
  client?: string;
  path?: string;
  client_id?: string;
  heartbeat?: number;
}
export interface IPing {
  type: 'ping';
}
export interface ISend {
  type: 'send';
  request_id: string;
  chat_id: string;
  content: string;
  model?: string;
  config?: IChatConfig;
  attachments?: IAttachment[];
  context?: IContextRef[];
  tools?: ToolChoice;
}
export interface IStop {
  type: 'stop';
  chat_id: string;
  message_id?: string;
}
export interface IRegenerate {
  type: 'regenerate';
  request_id: string;
  chat_id: string;
  model?: string;
  config?: IChatConfig;
  tools?: ToolChoice;
}
export interface ISync {
  type: 'sync';
  chat_id: string;
}
export interface IClear {
  type: 'clear';
  chat_id: string;
}
export interface IListVariables {
  type: 'list_variables';
}
export interface IListModels {
  type: 'list_models';
}
export interface IListTools {
  type: 'list_tools';
}
export interface IApprove {
  type: 'approve';
  chat_id: string;
  call_id: string;
  decision: Decision;
}

export type ChatScope = 'notebook' | 'all';
export type ExportFormat = 'markdown' | 'ipynb';
export interface IListChats {
  type: 'list_chats';
  scope: ChatScope;
}
export interface IOpenChat {
  type: 'open_chat';
  chat_id: string;
  path?: string;
}
export interface IRenameChat {
  type: 'rename_chat';
  chat_id: string;
  title: string;
  path?: string;
}
export interface IDeleteChat {
  type: 'delete_chat';
  chat_id: string;
  path?: string;
}
export interface IExport {
  type: 'export';
  request_id: string;
  chat_id: string;
  format: ExportFormat;
  path?: string;
}

export type ClientRequest =
  | IHello
  | IPing
  | ISend
  | IStop
  | IRegenerate
  | ISync
  | IClear
  | IListModels
  | IListVariables
  | IListChats
  | IOpenChat
  | IRenameChat
  | IDeleteChat
  | IExport
  | IListTools
  | IApprove;

// Kernel to frontend.

export interface IReady {
  type: 'ready';
  protocol: number;
  version: string;
  models: IModelInfo[];
  default_model: string;
  chats: IChatInfo[];
  protocol_minor: number;
  tools: IToolInfo[];
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
  usage?: IUsage;
}
export interface IErrorEvent {
  type: 'error';
  request_id?: string;
  chat_id?: string;
  message_id?: string;
  error: IErrorInfo;
}
export interface ISnapshot {
  type: 'snapshot';
  chat_id: string;
  messages: IMessage[];
  streaming: IStreamingMark | null;
}
export interface IModels {
  type: 'models';
  models: IModelInfo[];
  default_model: string;
}

export interface IVariables {
  type: 'variables';
  variables: IVariableInfo[];
  truncated: boolean;
}
export interface IChats {
  type: 'chats';
  chats: IChatInfo[];
  scope: ChatScope;
}
export interface IExported {
  type: 'exported';
  request_id: string;
  chat_id: string;
  format: ExportFormat;
  filename: string;
  content: string;
}
export interface ITools {
  type: 'tools';
  tools: IToolInfo[];
}
export interface IToolEvent {
  type: 'tool';
  chat_id: string;
  message_id: string;
  call: IToolCall;
}

export type KernelEvent =
  | IReady
  | IMessageEvent
  | IStart
  | IDelta
  | IDone
  | IErrorEvent
  | ISnapshot
  | IModels
  | IVariables
  | IChats
  | IExported
  | ITools
  | IToolEvent;

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
