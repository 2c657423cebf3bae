import { Kernel, KernelMessage } from '@jupyterlab/services';
import { UUID } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';
import {
  BOOTSTRAP_CODE,
  ClientRequest,
  COMM_TARGET,
  INSTALL_COMMAND,
  IReady,
  KernelEvent,
  PROTOCOL_VERSION
} from './protocol';

export type ConnectionStatus = 'connecting' | 'ready' | 'failed' | 'closed';

/** How long to wait for a subshell or a `ready` before saying so. */
const SUBSHELL_TIMEOUT_MS = 10000;
/**
 * The heartbeat a subshell comm declares, in seconds: the kernel closes the comm after
 * three silent ones. A hidden tab's timers may fire only once a minute, so pings go at
 * half this and three heartbeats stay longer than that minute.
 */
export const HEARTBEAT_SECONDS = 30;
/** Where a page keeps its `client_id`, so its next load replaces its comms (sessionStorage). */
export const CLIENT_ID_KEY = 'jupyter-deltachat:client-id';

/**
 * One protocol-v1 comm to one kernel. Bootstraps the kernel side with the silent `load()`,
 * opens the comm on a subshell when the kernel has them (so stop works while a cell runs),
 * and reopens after a kernel restart. Chat semantics live in `ChatState`, not here.
 */
export class ChatConnection {
  constructor(
    readonly kernel: Kernel.IKernelConnection,
    private readonly _client: string
  ) {
    kernel.statusChanged.connect(this._onKernelStatus, this);
    kernel.connectionStatusChanged.connect(this._onSocketStatus, this);
    window.addEventListener('pagehide', this._onPageHide);
    window.addEventListener('pageshow', this._onPageShow);
  }

  get status(): ConnectionStatus {
    return this._status;
  }
  get statusMessage(): string {
    return this._statusMessage;
  }
  get ready(): IReady | null {
    return this._ready;
  }
  get usesSubshell(): boolean {
    return this._subshell;
  }
  get statusChanged(): ISignal<this, ConnectionStatus> {
    return this._statusChanged;
  }
  get received(): ISignal<this, KernelEvent> {
    return this._received;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Bootstrap and open; resolves when `ready` arrived or the attempt failed. */
  async connect(): Promise<void> {
    if (this._disposed || this._connecting) {
      return this._connecting ?? undefined;
    }
    this._connecting = this._connect().finally(() => {
      this._connecting = null;
    });
    return this._connecting;
  }

  send(request: ClientRequest): boolean {
    if (!this._comm || this._comm.isDisposed || this._status !== 'ready') {
      return false;
    }
    try {
      this._comm.send(request as any);
      return true;
    } catch {
      return false;
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.kernel.statusChanged.disconnect(this._onKernelStatus, this);
    this.kernel.connectionStatusChanged.disconnect(this._onSocketStatus, this);
    window.removeEventListener('pagehide', this._onPageHide);
    window.removeEventListener('pageshow', this._onPageShow);
    this._closeComm();
    this._setStatus('closed', 'disconnected');
    Signal.clearData(this);
  }

  private async _connect(): Promise<void> {
    this._closeComm();
    this._ready = null;
    this._setStatus('connecting', `connecting to ${this.kernel.name}`);
    try {
      await this.kernel.info;
      const loadError = await this._bootstrap();
      if (loadError) {
        this._setStatus('failed', loadError);
        return;
      }
      const comm = this.kernel.createComm(COMM_TARGET);
      this._comm = comm;
      this._subshell = false;
      if (this.kernel.supportsSubshells) {
        const started = (comm as unknown as { subshellStarted?: Promise<void> })
          .subshellStarted;
        if (started) {
          this._subshell = await withTimeout(started, SUBSHELL_TIMEOUT_MS);
        }
      }
      const gotReady = new Promise<void>(resolve => {
        this._resolveReady = resolve;
      });
      comm.onMsg = msg => this._onCommMsg(msg);
      comm.onClose = () => this._onCommClose(comm);
      const hello: ClientRequest = {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        client: this._client,
        client_id: pageClientId(),
        // Only a subshell comm can promise pings: on the main shell they wait behind a cell.
        ...(this._subshell ? { heartbeat: HEARTBEAT_SECONDS } : {})
      };
      comm.open(hello as any);
      if (this._subshell) {
        this._startPings(comm);
      }
      await gotReady;
    } catch (error) {
      if (!this._disposed) {
        this._setStatus('failed', `could not connect: ${String(error)}`);
      }
    }
  }

  /** Run the silent `load()`; returns an error text, or '' when it worked. */
  private async _bootstrap(): Promise<string> {
    const future = this.kernel.requestExecute({
      code: BOOTSTRAP_CODE,
      silent: true,
      store_history: false,
      allow_stdin: false,
      stop_on_error: false
    });
    let failure = '';
    future.onIOPub = msg => {
      if (KernelMessage.isErrorMsg(msg)) {
        failure = `${msg.content.ename}: ${msg.content.evalue}`;
      }
    };
    const reply = await future.done;
    if (reply.content.status !== 'ok' || failure) {
      const content = reply.content as Partial<KernelMessage.IReplyErrorContent>;
      const reason = failure || `${content.ename ?? 'error'}: ${content.evalue ?? ''}`;
      if (/ModuleNotFoundError|No module named/.test(reason)) {
        const python = await this._kernelPython();
        const exact = python ? ` or in a terminal: ${quoted(python)} -m ${INSTALL_COMMAND}` : '';
        return (
          `The kernel "${this.kernel.name}" does not have jupyter-deltachat. ` +
          `Install it into the kernel's environment: in a notebook cell %${INSTALL_COMMAND}` +
          `${exact}. Then restart the kernel.`
        );
      }
      return `Loading jupyter-deltachat in the kernel failed: ${reason}`;
    }
    return '';
  }

  /** The kernel's Python executable (silently), so the install command names the right one. */
  private async _kernelPython(): Promise<string> {
    let output = '';
    try {
      const future = this.kernel.requestExecute({
        code: 'import sys as _s; print(_s.executable); del _s',
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      });
      future.onIOPub = msg => {
        if (KernelMessage.isStreamMsg(msg) && msg.content.name === 'stdout') {
          output += msg.content.text;
        }
      };
      await future.done;
    } catch {
      return '';
    }
    return output.trim();
  }

  private _onCommMsg(msg: KernelMessage.ICommMsgMsg): void {
    const data = msg.content.data as unknown as KernelEvent;
    if (!data || typeof data !== 'object' || typeof data.type !== 'string') {
      return;
    }
    if (data.type === 'ready') {
      this._ready = data;
      this._setStatus('ready', `attached to ${this.kernel.name}`);
      this._resolveReady?.();
      this._resolveReady = null;
    } else if (data.type === 'error' && data.error?.code === 'protocol_version') {
      this._setStatus('failed', data.error.message);
      this._resolveReady?.();
      this._resolveReady = null;
      return;
    }
    this._received.emit(data);
  }

  private _onCommClose(comm: Kernel.IComm): void {
    if (comm === this._comm && !this._disposed) {
      this._comm = null;
      this._setStatus('connecting', 'the kernel closed the chat; reconnecting');
      void this.connect();
    }
  }

  private _onKernelStatus(_: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this._restarting = true;
      this._comm = null;
      this._resolveReady?.();
      this._resolveReady = null;
      this._setStatus('connecting', `kernel ${status}`);
    } else if (status === 'idle' && this._restarting) {
      this._restarting = false;
      void this.connect();
    }
  }

  /** Ping on `comm` every half heartbeat until it is closed or replaced. */
  private _startPings(comm: Kernel.IComm): void {
    this._stopPings();
    this._pingTimer = window.setInterval(() => {
      if (comm !== this._comm || comm.isDisposed) {
        this._stopPings();
        return;
      }
      try {
        comm.send({ type: 'ping' } as any);
      } catch {
        // the kernel is gone; its status change reconnects
      }
    }, (HEARTBEAT_SECONDS * 1000) / 2);
  }

  private _stopPings(): void {
    if (this._pingTimer) {
      window.clearInterval(this._pingTimer);
      this._pingTimer = 0;
    }
  }

  /** A page going away closes its comm, so the kernel stops sending to it at once. */
  private readonly _onPageHide = (): void => {
    this._closeComm();
  };

  /** A page restored from the back/forward cache opens a new comm. */
  private readonly _onPageShow = (event: PageTransitionEvent): void => {
    if (event.persisted && !this._disposed) {
      void this.connect();
    }
  };

  /**
   * While the page's WebSocket was down, its pings did not reach the kernel, which may have
   * closed the comm without the page hearing it: a heartbeat comm is reopened afterwards.
   */
  private _onSocketStatus(
    _: Kernel.IKernelConnection,
    status: Kernel.ConnectionStatus
  ): void {
    if (status !== 'connected') {
      this._socketLost ||= this._pingTimer !== 0;
    } else if (this._socketLost) {
      this._socketLost = false;
      if (!this._restarting && !this._disposed) {
        void this.connect();
      }
    }
  }

  private _closeComm(): void {
    this._stopPings();
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed && !this.kernel.isDisposed) {
      try {
        comm.onClose = () => undefined;
        comm.close();
      } catch {
        // the kernel is already gone
      }
    }
  }

  private _setStatus(status: ConnectionStatus, message: string): void {
    this._status = status;
    this._statusMessage = message;
    this._statusChanged.emit(status);
  }

  private _status: ConnectionStatus = 'connecting';
  private _statusMessage = '';
  private _ready: IReady | null = null;
  private _comm: Kernel.IComm | null = null;
  private _subshell = false;
  private _pingTimer = 0;
  private _socketLost = false;
  private _restarting = false;
  private _disposed = false;
  private _connecting: Promise<void> | null = null;
  private _resolveReady: (() => void) | null = null;
  private _statusChanged = new Signal<this, ConnectionStatus>(this);
  private _received = new Signal<this, KernelEvent>(this);
}

/** This page's client id: one per browser tab, the same across its reloads. */
function pageClientId(): string {
  try {
    let id = window.sessionStorage.getItem(CLIENT_ID_KEY);
    if (!id) {
      id = UUID.uuid4();
      window.sessionStorage.setItem(CLIENT_ID_KEY, id);
    }
    return id;
  } catch {
    return PAGE_ID; // storage disabled: at least this load's comms share one id
  }
}

const PAGE_ID = UUID.uuid4();

function quoted(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `"${path}"`;
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer = 0;
  const timeout = new Promise<boolean>(resolve => {
    timer = window.setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    window.clearTimeout(timer);
  }
}
