// One file's upload: handler, chunks, optional finalize; pause, resume,
// cancel; remembered in localStorage until it is done, so a reload or a
// closed tab can pick it up again where the server stands.

import { crc32, crc32Combine, hex } from "./crc32.js";
import { OFFSET_MISMATCH, SrvError, backoff, sleep } from "./srv.js";

const STORE_KEY = "chunked_upload.pending.v1";

/** Unfinished uploads remembered across reloads: handler, name, size, lastModified. */
export const pending = {
  all() {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    } catch {
      return [];
    }
  },
  save(list) {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(list));
    } catch {
      // Storage full or disabled: the upload still works, it just won't resume.
    }
  },
  find(file, scope) {
    return this.all().find((p) => p.scope === scope && p.name === file.name
      && p.size === file.size && p.lastModified === file.lastModified);
  },
  remember(entry) {
    this.save([...this.all().filter((p) => p.handler !== entry.handler), entry]);
  },
  forget(handler) {
    this.save(this.all().filter((p) => p.handler !== handler));
  },
};

export const State = Object.freeze({
  QUEUED: "queued", UPLOADING: "uploading", PAUSED: "paused", FINALIZING: "finalizing",
  COMPLETE: "complete", DONE: "done", ERROR: "error", CANCELLED: "cancelled",
});

const RATE_WINDOW_MS = 5000;

/**
 * Uploads `file` through `srv`. With `folder` set, finalizes it to
 * `folder/name` (UploadDocumentWithHandler); without, stops at COMPLETE
 * (a form field hands the handler id to the server instead).
 * Emits "change" events on itself; read `state`, `offset`, `rate()`, `eta()`.
 */
export class Upload extends EventTarget {
  constructor(srv, file, { folder = null, chunkSize = 0, scope = "", pipeline = 2 } = {}) {
    super();
    this.srv = srv;
    this.file = file;
    this.folder = folder;
    this.preferredChunkSize = chunkSize;
    this.pipeline = Math.max(1, pipeline); // chunk requests in flight at once
    this.recoveries = 0; // offsets re-read from the server (overtaken or lost answers)
    this.scope = scope; // which site's handlers (the endpoint): localStorage is per origin
    this.state = State.QUEUED;
    this.offset = 0;
    this.handler = null;
    this.chunkSize = 0;
    this.error = "";
    this.resumedFrom = null;
    this.result = null; // { documentId, versionId, path } once finalized
    this.samples = [];
    this.controller = null;
    this.crc = 0;
    this.crcAt = -1; // the offset up to which `crc` is the file's CRC
    const remembered = pending.find(file, scope);
    if (remembered) {
      this.handler = remembered.handler;
      this.resumedFrom = remembered.offset || 0;
      this.offset = this.resumedFrom;
    }
  }

  get path() {
    return `${(this.folder || "").replace(/\/+$/, "")}/${this.file.name}`;
  }

  /** Run until done, paused, cancelled or failed; resolves either way. */
  async run() {
    if (![State.QUEUED, State.PAUSED, State.ERROR].includes(this.state)) return;
    this.controller = new AbortController();
    const { signal } = this.controller;
    this.error = "";
    this._set(State.UPLOADING);
    try {
      await this._prepare(signal);
      await this._send(signal);
      if (this.folder !== null) {
        this._set(State.FINALIZING);
        const answer = await this.srv.finalize(this.handler, this.path, signal);
        this.result = { documentId: answer.DocumentId, versionId: answer.VersionId, path: this.path };
        pending.forget(this.handler);
        this._set(State.DONE);
      } else {
        this._set(State.COMPLETE);
      }
    } catch (err) {
      if (signal.aborted) return; // pause() or cancel() set the state
      this.error = err.message || String(err);
      this._set(State.ERROR);
    } finally {
      this.controller = null;
    }
  }

  /** Stop sending; the handler and what it holds stay for `run()` to resume. */
  pause() {
    if (this.state !== State.UPLOADING && this.state !== State.QUEUED) return;
    this._set(State.PAUSED);
    this.controller?.abort(new DOMException("paused", "AbortError"));
  }

  /** Stop and discard: DeleteUploadHandler, forgotten here too. */
  async cancel() {
    if ([State.DONE, State.CANCELLED].includes(this.state)) return;
    this._set(State.CANCELLED);
    this.controller?.abort(new DOMException("cancelled", "AbortError"));
    if (this.handler) {
      pending.forget(this.handler);
      try {
        await this.srv.deleteHandler(this.handler);
      } catch {
        // Gone already, or unreachable: it expires on the server anyway.
      }
    }
  }

  /** Bytes per second over the last few seconds. */
  rate() {
    const s = this.samples;
    if (s.length < 2) return 0;
    const [t0, b0] = s[0];
    const [t1, b1] = s[s.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  /** Seconds left at the current rate, or null when unknown. */
  eta() {
    const rate = this.rate();
    return rate > 0 ? (this.file.size - this.offset) / rate : null;
  }

  async _prepare(signal) {
    if (this.handler) {
      try {
        // The server's offset decides: the page may have been closed mid-chunk.
        const status = await this.srv.status(this.handler, signal);
        this.chunkSize = Number(status.ChunkSize);
        this.offset = Number(status.offset);
        this.resumedFrom = this.offset;
        if (status.complete === "true" && this.offset === this.file.size) this._complete = true;
        if (this.offset > this.file.size) throw new SrvError("Upload handler not found or expired.");
        if (this.offset > 0 && !(await this._samePrefix(status.filehexcrc, signal))) {
          throw new SrvError("Upload handler not found or expired.");
        }
        return;
      } catch (err) {
        if (signal.aborted || !(err instanceof SrvError) || err.retry) throw err;
        // Expired, finalized, deleted or another file: start over.
        pending.forget(this.handler);
        this.handler = null;
        this.offset = 0;
        this.resumedFrom = null;
      }
    }
    const answer = await this.srv.createHandler(this.preferredChunkSize, signal);
    this.handler = answer.UploadHandler;
    this.chunkSize = Number(answer.ChunkSize);
    this._remember(true);
  }

  /** Does the file's first `offset` bytes have the CRC the server holds? */
  async _samePrefix(serverCrc, signal) {
    if (this.crcAt !== this.offset) await this._prefixCrc(signal);
    return parseInt(serverCrc, 16) === this.crc;
  }

  /** The CRC of the file up to `offset`, read in 8 MiB pieces (constant memory). */
  async _prefixCrc(signal) {
    let crc = 0;
    for (let at = 0; at < this.offset; at += 8 << 20) {
      if (signal.aborted) throw signal.reason;
      const end = Math.min(this.offset, at + (8 << 20));
      crc = crc32(new Uint8Array(await this.file.slice(at, end).arrayBuffer()), crc);
    }
    this.crc = crc;
    this.crcAt = this.offset;
  }

  /**
   * Send the chunks from `offset` on, `pipeline` requests in flight: the
   * next chunk is on its way while the server appends the one before, which
   * hides a browser's per-request cost. Every chunk carries its `chunkOffset`,
   * so one that overtakes its predecessor is refused ("Offset mismatch.") and
   * nothing is appended out of order; then the in-flight requests are let
   * finish, the server's offset is read and sending goes on from there.
   */
  async _send(signal) {
    if (this._complete) return;
    const size = this.file.size;
    if (!this.offset) {
      this.crc = 0;
      this.crcAt = 0;
    }
    this.samples = [[performance.now(), this.offset]];
    // The whole file's CRC at each chunk boundary sent, so that any offset
    // the server may report is known without reading the file again.
    const crcs = new Map([[this.offset, this.crc]]);
    const inflight = [];
    let sendAt = this.offset;
    let sentLast = false;
    let stuck = 0;
    const drain = () => Promise.all(inflight.splice(0).map((i) => i.result));
    for (;;) {
      while (inflight.length < this.pipeline && !sentLast) {
        const chunk = await this._read(sendAt);
        const last = chunk.end >= size;
        // The next request leaves once the previous one's body is half out,
        // so that it rarely reaches the server first.
        if (inflight.length) await inflight[inflight.length - 1].sent;
        let sent;
        const sentPromise = new Promise((resolve) => { sent = resolve; });
        const result = this.srv.chunk(this.handler, chunk.blob, chunk.crc, chunk.start, last,
          signal, sent).then((answer) => ({ answer }), (error) => ({ error }));
        result.then(sent);
        inflight.push({ chunk, last, result, sent: sentPromise });
        crcs.set(chunk.end, crc32Combine(crcs.get(chunk.start), chunk.value, chunk.end - chunk.start));
        sendAt = chunk.end;
        sentLast = last;
      }
      const { chunk, last, result } = inflight.shift();
      const { answer, error } = await result;
      if (error) {
        await drain();
        if (signal.aborted) throw error;
        if (!(error instanceof SrvError && error.code === OFFSET_MISMATCH) || ++stuck > 5) {
          throw error;
        }
        this.recoveries++;
        const status = await this.srv.status(this.handler, signal);
        const at = Number(status.offset);
        if (at > size) throw new SrvError("Offset mismatch.");
        this.offset = at;
        if (crcs.has(at)) {
          this.crc = crcs.get(at);
          this.crcAt = at;
        } else {
          await this._prefixCrc(signal);
        }
        if (status.complete === "true") {
          if (at === size && parseInt(status.filehexcrc, 16) === this.crc) return;
          throw new SrvError("Upload handler is already complete.");
        }
        crcs.clear();
        crcs.set(at, this.crc);
        sendAt = at;
        sentLast = false;
        continue;
      }
      stuck = 0;
      this.offset = chunk.end;
      this.crc = crcs.get(chunk.end);
      this.crcAt = this.offset;
      crcs.delete(chunk.start);
      this._sample();
      this._remember();
      if (last) {
        if (parseInt(answer.filehexcrc, 16) !== this.crc) {
          throw new SrvError(`File CRC mismatch: local ${hex(this.crc)}, server ${answer.filehexcrc}`);
        }
        return;
      }
    }
  }

  async _read(start) {
    const end = Math.min(this.file.size, start + this.chunkSize);
    const blob = this.file.slice(start, end);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const value = crc32(bytes);
    // The Blob is sent, not the bytes: the browser streams it from the file.
    return { start, end, blob, crc: hex(value), value };
  }

  _sample() {
    const now = performance.now();
    this.samples.push([now, this.offset]);
    while (this.samples.length > 2 && now - this.samples[0][0] > RATE_WINDOW_MS) {
      this.samples.shift();
    }
    this._emit();
  }

  _remember(force = false) {
    // At most once a second while chunks flow: localStorage writes are synchronous.
    const now = Date.now();
    if (!force && now - (this.rememberedAt || 0) < 1000) return;
    this.rememberedAt = now;
    pending.remember({
      scope: this.scope, handler: this.handler, name: this.file.name, size: this.file.size,
      lastModified: this.file.lastModified, offset: this.offset, folder: this.folder,
      at: Date.now(),
    });
  }

  _set(state) {
    this.state = state;
    this._emit();
  }

  _emit() {
    this.dispatchEvent(new Event("change"));
  }
}

export { backoff, sleep };
