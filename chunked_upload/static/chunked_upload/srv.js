// The srv.asmx protocol as the uploader speaks it: urlencoded POSTs for the
// small calls, multipart with a binary `fileChunk` part for the chunks, and
// retries with backoff for what is worth retrying.

/** A protocol answer with success="false", or a failure not worth retrying. */
export class SrvError extends Error {
  constructor(message, { code = 0, offset = null, retry = false } = {}) {
    super(message);
    this.name = "SrvError";
    this.code = code; // the answer's errorCode (4010: ticket, 4090: offset...)
    this.offset = offset; // for "Offset mismatch.": where the server stands
    this.retry = retry; // network error or HTTP 5xx: worth another try
  }
}

const TICKET_ERROR = 4010;
const OFFSET_MISMATCH = 4090;

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s... capped at 30 s. */
export function backoff(attempt) {
  const base = Math.min(30000, 500 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

/**
 * One endpoint (`/srv.asmx`) and a way to get a ticket. `getTicket(renew)`
 * returns a promise of the ticket GUID; with `renew` true the old one was
 * refused and a fresh one is wanted.
 */
export class Srv {
  constructor(endpoint, getTicket, { maxAttempts = 8 } = {}) {
    this.endpoint = endpoint.replace(/\/$/, "");
    this.getTicket = getTicket;
    this.maxAttempts = maxAttempts;
  }

  /**
   * POST `method` once; the answer's root element, whatever its success.
   * XMLHttpRequest rather than fetch: it tells how much of the body is out;
   * `onSent` is called at half of it, when the uploader starts the next chunk.
   */
  post(method, body, signal, onSent) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const xhr = new XMLHttpRequest();
      const abort = () => {
        xhr.abort();
        reject(signal.reason);
      };
      signal?.addEventListener("abort", abort, { once: true });
      xhr.open("POST", `${this.endpoint}/${method}`);
      if (onSent) {
        let called = false;
        const once = () => {
          if (!called) onSent();
          called = true;
        };
        xhr.upload.addEventListener("progress", (e) => {
          if (e.lengthComputable && e.loaded * 2 >= e.total) once();
        });
        xhr.upload.addEventListener("load", once);
      }
      xhr.addEventListener("error", () => {
        signal?.removeEventListener("abort", abort);
        reject(new SrvError("Network error", { retry: true }));
      });
      xhr.addEventListener("load", () => {
        signal?.removeEventListener("abort", abort);
        if (xhr.status >= 500) {
          reject(new SrvError(`HTTP ${xhr.status}`, { retry: true }));
          return;
        }
        const root = new DOMParser().parseFromString(xhr.responseText, "text/xml").documentElement;
        if (!root || root.nodeName === "parsererror") {
          reject(new SrvError(`HTTP ${xhr.status}: not a protocol answer`));
          return;
        }
        resolve(root);
      });
      xhr.send(body);
    });
  }

  /**
   * Call `method` with `fields`, the ticket added; retry network errors, 5xx
   * and (once) a refused ticket. `makeBody(fields)` builds the request body.
   */
  async call(method, fields, { signal, makeBody = urlencoded, onSent } = {}) {
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      const ticket = await this.getTicket(false);
      let root;
      try {
        root = await this.post(method, makeBody({ authenticationTicket: ticket, ...fields }),
          signal, onSent);
      } catch (err) {
        if (!(err instanceof SrvError && err.retry) || attempt + 1 >= this.maxAttempts) throw err;
        await sleep(backoff(attempt), signal);
        continue;
      }
      const attrs = attributes(root);
      if (attrs.success === "true") return attrs;
      const code = Number(attrs.errorCode || 0);
      if (code === TICKET_ERROR && !renewed) {
        renewed = true;
        await this.getTicket(true);
        attempt--;
        continue;
      }
      if (attrs.tryagain === "true") return attrs; // the caller resends the chunk
      throw new SrvError(attrs.error || `${method} failed`, {
        code, offset: attrs.offset !== undefined ? Number(attrs.offset) : null,
      });
    }
  }

  createHandler(chunkSize, signal) {
    return this.call("CreateUploadHandler", { PreferedChunkSize: String(chunkSize || 0) },
      { signal });
  }

  status(handler, signal) {
    return this.call("GetUploadHandlerStatus", { uploadHandler: handler }, { signal });
  }

  deleteHandler(handler) {
    return this.call("DeleteUploadHandler", { UploadHandler: handler });
  }

  finalize(handler, path, signal) {
    return this.call("UploadDocumentWithHandler", { path, uploadHandler: handler }, { signal });
  }

  /**
   * Send one chunk (a Blob) at `offset`. Resolves to the answer's attributes
   * when accepted; `tryagain` answers are retried here with backoff.
   * `onSent()` is called when half of the (first) request's body has gone out.
   */
  async chunk(handler, blob, crcHex, offset, last, signal, onSent) {
    const fields = {
      uploadHandler: handler, chunkHEXCRC: crcHex, lastChunk: last ? "true" : "false",
      chunkOffset: String(offset),
    };
    for (let attempt = 0; ; attempt++) {
      const attrs = await this.call("UploadFileChunk", fields, {
        signal, makeBody: (f) => multipart(f, blob), onSent,
      });
      if (attrs.tryagain !== "true") return attrs;
      if (attempt + 1 >= this.maxAttempts) {
        throw new SrvError("The server kept refusing the chunk's CRC.");
      }
      await sleep(backoff(attempt), signal);
    }
  }
}

export { OFFSET_MISMATCH };

function urlencoded(fields) {
  return new URLSearchParams(fields);
}

function multipart(fields, blob) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("fileChunk", blob, "chunk"); // a file part: raw bytes, no Base64
  return form;
}

function attributes(root) {
  const attrs = {};
  for (const attr of root.attributes) attrs[attr.name] = attr.value;
  return attrs;
}
