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

  /** POST `method` once; the answer's root element, whatever its success. */
  async post(method, body, signal) {
    let response;
    try {
      response = await fetch(`${this.endpoint}/${method}`, {
        method: "POST", body, signal, credentials: "same-origin", cache: "no-store",
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new SrvError(`Network error: ${err.message}`, { retry: true });
    }
    const text = await response.text().catch(() => "");
    if (response.status >= 500) throw new SrvError(`HTTP ${response.status}`, { retry: true });
    const root = new DOMParser().parseFromString(text, "text/xml").documentElement;
    if (!root || root.nodeName === "parsererror") {
      throw new SrvError(`HTTP ${response.status}: not a protocol answer`);
    }
    return root;
  }

  /**
   * Call `method` with `fields`, the ticket added; retry network errors, 5xx
   * and (once) a refused ticket. `makeBody(fields)` builds the request body.
   */
  async call(method, fields, { signal, makeBody = urlencoded } = {}) {
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      const ticket = await this.getTicket(false);
      let root;
      try {
        root = await this.post(method, makeBody({ authenticationTicket: ticket, ...fields }),
          signal);
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
   */
  async chunk(handler, blob, crcHex, offset, last, signal) {
    const fields = {
      uploadHandler: handler, chunkHEXCRC: crcHex, lastChunk: last ? "true" : "false",
      chunkOffset: String(offset),
    };
    for (let attempt = 0; ; attempt++) {
      const attrs = await this.call("UploadFileChunk", fields, {
        signal, makeBody: (f) => multipart(f, blob),
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
